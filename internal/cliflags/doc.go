// Package cliflags holds the command-line flags and flag values shared by
// cmd/bulwark and the pipelines of cluster/cmd/bulwark-cluster, which take
// the flags of their bulwark command: one definition, so that names,
// defaults and help stay the same in both. A command whose help differs
// for a flag rewrites it with SetUsage.
package cliflags
