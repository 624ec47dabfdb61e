package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/server"
)

// The configuration file (-c) and the flags that interact with it.

// reparseOverConfigFile loads the file and parses args again on top of
// it: the flags' defaults are then the file's values, so only flags
// actually given override the file.
func reparseOverConfigFile(path string, args []string) (invocation, tlsFlags, error) {
	fileOpts, err := config.LoadConfigFile(path)
	if err != nil {
		return invocation{}, tlsFlags{}, err
	}
	if fileOpts.Host == "" {
		fileOpts.Host = config.DefaultHost
	}
	if fileOpts.Port == 0 {
		fileOpts.Port = config.DefaultPort
	}
	cfg := invocation{opts: fileOpts}
	var tf tlsFlags
	err = bindAndParse(&cfg, &tf, args)
	return cfg, tf, err
}

// tlsFlags are kept apart from the options: like nats-server, any TLS flag
// replaces the configuration file's whole tls block.
type tlsFlags struct {
	enable, verify bool
	cert, key, ca  string
	set            bool // some TLS flag was given
}

// applyTLSFlags replaces the TLS options with the flags' (nats-server's
// rule: the command line's TLS settings are complete in themselves).
// --tls=false alone turns TLS off.
func applyTLSFlags(o *config.Options, tf tlsFlags) error {
	if !tf.enable && !tf.verify && tf.cert == "" && tf.key == "" && tf.ca == "" {
		o.TLS = config.TLSOptions{}
		return nil
	}
	if tf.cert == "" {
		return errors.New("TLS needs a server certificate (--tlscert)")
	}
	if tf.key == "" {
		return errors.New("TLS needs the certificate's private key (--tlskey)")
	}
	timeout := o.TLS.Timeout
	o.TLS = config.TLSOptions{
		CertFile: tf.cert, KeyFile: tf.key, CAFile: tf.ca,
		Verify: tf.verify, Timeout: timeout,
	}
	return nil
}

// checkConfig is -t: build the server from the configuration (which loads
// certificates and resolves users and accounts) without listening.
func checkConfig(cfg invocation) int {
	if _, err := server.New(cfg.opts, nil); err != nil {
		fmt.Fprintf(os.Stderr, "midge: %v\n", err)
		return 1
	}
	for _, w := range cfg.opts.ConfigWarnings {
		fmt.Fprintf(os.Stderr, "midge: warning: %s\n", w)
	}
	fmt.Printf("midge: configuration %s is valid\n", cfg.configFile)
	return 0
}
