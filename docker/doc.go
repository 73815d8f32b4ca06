// Package docker holds no Go code: this directory is the Docker deployment of
// ocsflux (Dockerfile, compose files, an example site config and the Grafana
// provisioning and dashboards), and its tests check those files.
//
// The tests (package docker_test) validate every compose file with
// docker-compose, run the Dockerfile's own `go build` command line and check
// the binary is static, check the build-context filter keeps every source
// file, check that the compose files, site config and Grafana provisioning
// agree with each other, and run every InfluxQL query of the shipped
// dashboards against a real InfluxDB 1.x holding OCS-shaped data. They do
// not need a Docker engine and never build or run an image.
package docker
