// The etcd server, built from its published module: server/go.mod has replaces, so
// `go install go.etcd.io/etcd/server/v3@...` is refused; this wrapper requires it instead.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
