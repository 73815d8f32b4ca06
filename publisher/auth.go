package publisher

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"
)

// Credentials authenticate every request to InfluxDB. With a Token the
// requests carry "Authorization: Token <token>" (InfluxDB 2.x/3.x through
// their v1-compatible API); otherwise HTTP Basic authentication with
// Username and Password is sent on every request, as the Python agent does
// (an InfluxDB without auth ignores it).
//
// Credentials never appear in logs or errors: String and LogValue redact
// them.
type Credentials struct {
	Username string
	Password string
	Token    string
}

// Environment variables read by LoadCredentials.
const (
	EnvUsername     = "INFLUXDB_USERNAME"
	EnvUsernameFile = "INFLUXDB_USERNAME_FILE"
	EnvPassword     = "INFLUXDB_PASSWORD"
	EnvPasswordFile = "INFLUXDB_PASSWORD_FILE"
	EnvToken        = "INFLUXDB_TOKEN"
	EnvTokenFile    = "INFLUXDB_TOKEN_FILE"
)

// DefaultUsername and DefaultPassword are used when neither the variable
// nor its _FILE form is set (Python agent: root/root).
const (
	DefaultUsername = "root"
	DefaultPassword = "root"
)

// LoadCredentials reads the credentials with the Python agent's precedence
// (ocs-protocol.md §7.3), extended with a token:
//
//   - if X_FILE is set, that file is read as UTF-8 and trailing CR/LF
//     characters (only those) are stripped; a set but unreadable file is an
//     error, even when X itself is also set;
//   - the username is INFLUXDB_USERNAME if set (even to ""), else the
//     content of INFLUXDB_USERNAME_FILE, else "root"; the password likewise
//     with INFLUXDB_PASSWORD, INFLUXDB_PASSWORD_FILE, "root";
//   - the token is INFLUXDB_TOKEN if set, else INFLUXDB_TOKEN_FILE's
//     content; an empty token means none (Basic auth is used).
//
// lookup is os.LookupEnv and readFile os.ReadFile in production. The
// Python agent reads credentials each time `record` starts; so should the
// caller. Errors name the variable and the file, never the content.
func LoadCredentials(lookup func(string) (string, bool), readFile func(string) ([]byte, error)) (Credentials, error) {
	user, err := LookupSecret(lookup, readFile, EnvUsername, EnvUsernameFile, DefaultUsername)
	if err != nil {
		return Credentials{}, err
	}
	pass, err := LookupSecret(lookup, readFile, EnvPassword, EnvPasswordFile, DefaultPassword)
	if err != nil {
		return Credentials{}, err
	}
	token, err := LookupSecret(lookup, readFile, EnvToken, EnvTokenFile, "")
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{Username: user, Password: pass, Token: token}, nil
}

// LookupSecret is the value of the variable env if set (even to ""), else
// the content of the file that fileEnv names (see ReadSecretFile), else
// def. A set but unreadable file is an error, even when env is set.
func LookupSecret(lookup func(string) (string, bool), readFile func(string) ([]byte, error), env, fileEnv, def string) (string, error) {
	var fromFile string
	haveFile := false
	if path, ok := lookup(fileEnv); ok {
		v, err := ReadSecretFile(readFile, path)
		if err != nil {
			return "", fmt.Errorf("read %s file %w", fileEnv, err)
		}
		fromFile, haveFile = v, true
	}
	if v, ok := lookup(env); ok {
		return v, nil
	}
	if haveFile {
		return fromFile, nil
	}
	return def, nil
}

// ReadSecretFile reads a credential from a file as UTF-8 and strips its
// trailing CR/LF characters (only those). Errors name the file, never its
// content.
func ReadSecretFile(readFile func(string) ([]byte, error), path string) (string, error) {
	b, err := readFile(path)
	if err != nil {
		return "", fmt.Errorf("%q: %w", path, err)
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%q: content is not valid UTF-8", path)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// header returns the Authorization header value.
func (c Credentials) header() string {
	if c.Token != "" {
		return "Token " + c.Token
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.Username+":"+c.Password))
}

// Kind says which authentication is sent: "token" or "basic".
func (c Credentials) Kind() string {
	if c.Token != "" {
		return "token"
	}
	return "basic"
}

// String describes the credentials without revealing them.
func (c Credentials) String() string {
	if c.Token != "" {
		return "token auth (redacted)"
	}
	return "basic auth (redacted)"
}

// GoString is String, so %#v does not reveal the credentials either.
func (c Credentials) GoString() string { return c.String() }

// LogValue keeps credentials out of structured logs.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }
