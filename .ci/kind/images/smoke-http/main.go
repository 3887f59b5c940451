// smoke-http answers every HTTP request with "ok <hostname>": the pod behind the NodePort that
// .ci/kind/smoke.sh reaches on 127.0.0.1. Built here because no image can be pulled.
package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	addr := ":8080"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "ok %s\n", host)
	})
	log.Printf("smoke-http listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, nil))
}
