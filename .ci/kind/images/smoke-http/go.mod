module mytsdb-harness.local/smoke-http

go 1.22
