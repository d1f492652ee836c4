// Command motoproxy serves moto (the AWS emulator) through cloud/aws/motoproxy, which
// fills what moto lacks for EKS (version updates, DescribeUpdate, add-ons), so a
// development stack can deploy, upgrade and delete EKS clusters without AWS:
// `ASTRO_AWS=moto make run` starts moto_server and this in front of it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/astropulse/astroplane/cloud/aws/motoproxy"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:5000", "address to serve on")
	moto := flag.String("moto", "http://127.0.0.1:5001", "moto_server's URL")
	flag.Parse()
	p, err := motoproxy.New(*moto)
	if err != nil {
		fmt.Fprintln(os.Stderr, "motoproxy:", err)
		os.Exit(2)
	}
	srv := &http.Server{Addr: *listen, Handler: p, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("motoproxy: serving moto (%s) on http://%s", *moto, *listen)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "motoproxy:", err)
		os.Exit(1)
	}
}
