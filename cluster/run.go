package cluster

import (
	"context"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"
)

// execute runs p on the runner of --runner (prism, the embedded runner,
// when it is not set): on prism in this process, or submitted to a Flink,
// Spark or Dataflow job service.
func execute(ctx context.Context, p *beam.Pipeline) error {
	return beamx.Run(ctx, p)
}
