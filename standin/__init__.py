"""MyTSDB contract stand-in backed by a real Prometheus; imports only seeder and third-party libs."""
