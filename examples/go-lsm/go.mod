module wasmbpf.local/examples/go-lsm

go 1.23

require wasmbpf.local/sdk v0.0.0

replace wasmbpf.local/sdk => ../../wasm-sdk/go
