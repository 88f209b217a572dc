package train

import (
	"fmt"
	"path/filepath"

	"github.com/bulwark-ml/bulwark/nn"
	"github.com/bulwark-ml/bulwark/tensor"
)

// Result is a finished run: the trained model and its history, with the
// other weights a caller may prefer to the last epoch's.
type Result struct {
	// Model is the trained model, holding the last epoch's weights.
	Model nn.FeatureModel
	// Metrics has one entry per epoch this session ran (a resumed run's
	// earlier epochs are in its metrics.jsonl).
	Metrics []Metrics
	// EMA is the weight average's state dict; nil without Config.EMA.
	EMA map[string]*tensor.Tensor
	// Best is the state dict of best validation robust accuracy (the
	// averaged weights with EMA), from epoch BestEpoch (1-based); nil
	// unless the run trained adversarially with a test set.
	Best      map[string]*tensor.Tensor
	BestEpoch int
}

// Use loads the weights of state, r.EMA or r.Best, into r.Model.
func (r *Result) Use(state map[string]*tensor.Tensor) error {
	if state == nil {
		return fmt.Errorf("train: Result.Use: no weights (EMA and Best are nil unless the run made them)")
	}
	return nn.LoadStateDict(r.Model, state)
}

// Result returns what the run has made so far: the model, the metrics of
// this session, the EMA weights and the best weights (from memory, or
// from the run directory's best checkpoint when it was found by an
// earlier session).
func (t *Trainer) Result() (*Result, error) {
	r := &Result{Model: t.model, Metrics: t.metrics}
	if t.ema != nil {
		r.EMA = t.ema.State()
	}
	if a := t.adv; a != nil {
		r.Best, r.BestEpoch = a.bestState, a.bestEpoch
		if r.Best == nil && a.best >= 0 && t.cfg.Out != "" {
			w, err := nn.ReadWeights(filepath.Join(t.cfg.Out, BestModelFile))
			if err != nil {
				return r, err
			}
			r.Best, r.BestEpoch = w.State, w.Epoch
		}
	}
	return r, nil
}

// cloneState returns a deep copy of a state dict.
func cloneState(s map[string]*tensor.Tensor) map[string]*tensor.Tensor {
	c := make(map[string]*tensor.Tensor, len(s))
	for k, v := range s {
		c[k] = v.Clone()
	}
	return c
}
