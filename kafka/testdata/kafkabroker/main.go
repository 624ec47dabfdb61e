// Command kafkabroker serves the Kafka listener over a store directory, for
// the crash tests: it prints "ADDR host:port" once listening and runs until
// killed.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/kafka"
)

func main() {
	dir := flag.String("dir", "", "store directory")
	flag.Parse()
	store, backend, err := kafka.OpenJetStore(*dir, jetstore.Options{}, kafka.JetBackendOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer store.Close()
	srv, err := kafka.NewServer(kafka.Config{Listen: "127.0.0.1:0", Backend: backend})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := srv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("ADDR %s\n", srv.Addr())
	select {}
}
