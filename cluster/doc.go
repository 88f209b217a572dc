// Package cluster runs bulwark's expensive stages on Apache Beam: on the
// embedded prism runner on one machine, and on Flink, Spark or Google
// Cloud Dataflow beyond it. It is a module of its own, so that the root
// module, the embeddable engine, never builds Beam.
//
// Four pipelines each compute exactly what a single-process bulwark
// command computes, from the same inputs:
//
//   - Grid: bulwark prune-pipeline, a preparation job per repetition,
//     then a job per arm × ratio and reference of each, then the report
//     assembled from the finished runs.
//   - Embed: bulwark embed, the pool cut into shards of whole batches.
//   - Extrapolate: bulwark extrapolate, the queries cut into shards of
//     whole search tiles, the scored reference set a side input.
//   - Evaluate: bulwark attack, the test set cut into shards of whole
//     batches, the counts added up.
//
// Shards start where a batch or a search tile of the single-process
// computation starts, so every float computed is bit-identical to it.
// Every file goes through Beam's filesystem package (local paths, gs://,
// s3://); a shard's file and every output are written under a temporary
// name and then renamed, so a file that is there is complete. A shard
// whose file is there is not redone, and a failing shard is retried by
// the worker (Run.Attempts) before the pipeline fails with an error that
// names the shard and the file. See docs/cluster.md.
package cluster
