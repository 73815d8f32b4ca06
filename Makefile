# ocsflux — build, test and demo.
#
#   make test   install what the tests need (when missing), check formatting
#               and go mod tidy, go vet, and go test -race ./...
#   make build  a static ocsflux binary in ./bin
#   make bench  the float, decode, gzip, encode and pipeline benchmarks (docs/BENCHMARKS.md)
#   make demo   router + two fake-data agents + the publisher writing to
#               InfluxDB (a throwaway influxd when none answers), for
#               $(DURATION) (0: until Ctrl-C)
#
# TESTFLAGS runs one package at a time (-p 1): most packages start their own
# servers, and two packages' servers at once on a 2-core machine starve each
# other's waits.
#
# The tests run a real InfluxDB 1.x (Debian package influxdb), a real
# VictoriaMetrics (Debian package victoria-metrics) and a real
# autobahn-python client (Debian package python3-autobahn, for Debian's
# /usr/bin/python3), and validate the compose files with docker-compose
# (Debian package docker-compose). `make deps` installs them with apt-get
# when run as root and otherwise says what to install.

GO        ?= go
PYTHON    ?= /usr/bin/python3
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
TESTFLAGS ?= -race -p 1 -timeout 30m
DURATION  ?= 60s
INFLUX_URL ?= http://127.0.0.1:8086

.PHONY: all build test deps check-deps fmt-check tidy-check vet unit clean demo demo-deps bench

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ocsflux ./cmd/ocsflux

test: deps fmt-check tidy-check vet unit

# missing prints the Debian packages that are not usable yet.
missing = $(strip \
	$(if $(shell command -v influxd 2>/dev/null),,influxdb) \
	$(if $(shell command -v victoria-metrics 2>/dev/null),,victoria-metrics) \
	$(if $(shell $(PYTHON) -c 'import autobahn' >/dev/null 2>&1 && echo ok),,python3-autobahn) \
	$(if $(shell command -v docker-compose 2>/dev/null),,docker-compose))

deps:
	@need="$(missing)"; \
	if [ -z "$$need" ]; then echo "deps: influxd, victoria-metrics, python3-autobahn and docker-compose present"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "deps: missing Debian packages: $$need"; \
		echo "deps: install them as root:  apt-get update && apt-get install -y $$need"; \
		exit 1; \
	fi; \
	echo "deps: installing $$need"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -q && apt-get install -y -q --no-install-recommends $$need
	@$(MAKE) --no-print-directory check-deps

check-deps:
	@command -v influxd >/dev/null || { echo "deps: influxd still missing"; exit 1; }
	@command -v victoria-metrics >/dev/null || { echo "deps: victoria-metrics still missing"; exit 1; }
	@$(PYTHON) -c 'import autobahn' || { echo "deps: $(PYTHON) cannot import autobahn"; exit 1; }
	@command -v docker-compose >/dev/null || { echo "deps: docker-compose still missing"; exit 1; }

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

tidy-check:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }

vet:
	$(GO) vet ./...

unit:
	$(GO) test $(TESTFLAGS) ./...

demo: demo-deps build
	bin/ocsflux demo --duration $(DURATION) --influx-url $(INFLUX_URL)

# The demo needs an InfluxDB: one at $(INFLUX_URL), or influxd installed so
# that the demo can start a throwaway one.
demo-deps:
	@if command -v influxd >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "demo: installing the Debian package influxdb"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q && apt-get install -y -q --no-install-recommends influxdb; \
	else \
		echo "demo: influxd is not installed; the demo needs an InfluxDB at $(INFLUX_URL)"; \
		echo "demo: or install it as root:  apt-get update && apt-get install -y influxdb"; \
	fi

bench:
	$(GO) test -run xxx -bench . -benchtime 1s -benchmem -timeout 10m ./internal/pyrepr/ ./feeds/ ./publisher/
	$(GO) test -run xxx -bench Pipeline -benchtime 1s -timeout 10m ./agents/influxdb/

clean:
	rm -rf bin
