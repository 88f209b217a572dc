package attack

import (
	"slices"
	"testing"
)

// TestShardedEvaluateEqualsWhole checks that every attack with random
// starts gives each sample the same adversarial input whether Evaluate
// runs over the whole test set or over shards of it that start on a batch
// boundary: the starts are keyed by dataset index, not drawn from one
// stream that advances batch after batch.
func TestShardedEvaluateEqualsWhole(t *testing.T) {
	f := trained(t)
	const eps, bs = 0.3, 32
	n := len(f.y)
	cases := map[string]func() Attack{
		"pgd-linf": func() Attack { return &PGD{Eps: eps, Steps: 3, Restarts: 2, Seed: 5} },
		"pgd-l2":   func() Attack { return &PGD{Norm: L2, Eps: 1, Steps: 3, Restarts: 2, Seed: 5} },
		"apgd":     func() Attack { return &APGD{Eps: eps, Steps: 4, Restarts: 2, Seed: 5} },
		"apgd-t":   func() Attack { return &APGDT{Eps: eps, Steps: 4, Targets: 2, Seed: 5} },
		"fab-t":    func() Attack { return &FAB{Eps: eps, Steps: 4, Targets: 2, Restarts: 2, Seed: 5} },
		"worst": func() Attack {
			return NewWorstCase("", &PGD{Eps: eps, Steps: 2, Seed: 5}, &APGD{Eps: eps, Steps: 3, Restarts: 2, Seed: 6})
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			run := func(a Attack, idx []int) (adv []float32, worst []bool) {
				_, err := Evaluate(f.model, f.ds, EvalOptions{BatchSize: bs, Indices: idx, AttackAll: true,
					OnBatch: func(b *EvalBatch) error {
						adv = append(adv, b.Adv[0].Data()...)
						worst = append(worst, b.Worst...)
						return nil
					}}, a)
				if err != nil {
					t.Fatal(err)
				}
				return adv, worst
			}
			whole, wholeWorst := run(mk(), nil)
			var sharded []float32
			var shardedWorst []bool
			a := mk() // one attack value for every shard, as a worker keeps it
			for lo := 0; lo < n; lo += 3 * bs {
				idx := make([]int, 0, 3*bs)
				for i := lo; i < min(lo+3*bs, n); i++ {
					idx = append(idx, i)
				}
				// A direct call between shards moves the attack's own count
				// of samples, which keyed starts must not see.
				x, y := head(f, 7)
				if _, err := a.Perturb(f.model, x, y); err != nil {
					t.Fatal(err)
				}
				adv, w := run(a, idx)
				sharded, shardedWorst = append(sharded, adv...), append(shardedWorst, w...)
			}
			if !slices.Equal(whole, sharded) || !slices.Equal(wholeWorst, shardedWorst) {
				t.Errorf("sharded inputs differ from the whole evaluation's")
			}
			if slices.Equal(whole, f.x.Data()) {
				t.Error("the attack changed no input")
			}
		})
	}
}
