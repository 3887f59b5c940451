module mytsdb-harness.local/runc-capfilter

go 1.22
