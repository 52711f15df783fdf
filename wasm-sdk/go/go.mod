module wasmbpf.local/sdk

go 1.23
