module github.com/ocsflux/ocsflux

go 1.26

require (
	github.com/alecthomas/kong v1.17.0
	github.com/gammazero/nexus/v3 v3.3.0
	github.com/gorilla/websocket v1.5.3
	github.com/influxdata/influxdb1-client v0.0.0-20220302092344-a9ab5670611c
	github.com/klauspost/compress v1.20.3
	go.uber.org/goleak v1.3.0
	go.yaml.in/yaml/v3 v3.0.6
)

require (
	github.com/gammazero/deque v1.2.1 // indirect
	github.com/ugorji/go/codec v1.3.1 // indirect
	golang.org/x/crypto v0.48.0 // indirect
)
