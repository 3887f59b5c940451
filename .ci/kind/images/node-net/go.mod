module mytsdb-harness.local/node-net

go 1.22
