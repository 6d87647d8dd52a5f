// etcd for the local API server of tests/kubernetes/test_local_cluster.py: the server's own entry
// point (go.etcd.io/etcd/server/v3/etcdmain), at the version k8s.io/kubernetes requires.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
