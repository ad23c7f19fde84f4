// recur/trainer.hpp — the one training loop, for every shape of model.
//
//   run_training:
//     for each epoch (a pass over the data):   batcher.begin_epoch(rng)
//       for each batch k:                      zero_grad; objective.forward_backward (forward,
//                                                loss, backward) on each part of the batch here;
//                                                the sum over processes (data parallelism);
//                                                clipping, optimizer step
//         when due: evaluation (validation and test metrics, the best weights, patience)
//         on_step callback (progress, interrupt); a checkpoint when due
//
// Two interfaces make a shape of model:
//   Batcher    how data becomes batches: BucketBatcher (many-to-one: shuffled,
//              length-bucketed minibatches of whole sequences), StreamBatcher
//              (many-to-many: B parallel streams of a text, T symbols a step,
//              state carried from step to step — truncated BPTT)
//   Objective  what is learned from a batch: ManyToOne (a class per sequence,
//              from its final state), ManyToMany (the next symbol at every step)
// A new shape (sequence-to-sequence) is a new Batcher and Objective; the loop,
// the best-model rule, patience, checkpoints and callbacks stay as they are.
//
// Data parallelism and gradient accumulation are the same loop: a batcher
// built with a BatchSplit hands each process its share of every step's batch,
// cut into --accumulate parts; each part's loss is averaged over the whole
// step's sequences (Batch::global_B), so the parts' gradients add up to the
// step's, and TrainerHooks::processes sums them over the processes before the
// one optimizer step every process takes (docs/distributed.md).
//
// Bodies in src/trainer.cpp and src/objectives.cpp, instantiated for float and double.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "recur/communicator.hpp"
#include "recur/data.hpp"
#include "recur/model.hpp"
#include "recur/optim.hpp"
#include "recur/run.hpp"
#include "recur/token_stream.hpp"

namespace recur {

// What one batch contributed to the running training numbers.
struct StepLoss {
  double value = 0;    // added to the running loss ...
  double weight = 0;   // ... and this to its divisor: the loss reported is sum(value) / sum(weight)
  double correct = 0;  // right predictions (many-to-one)
  long n = 0;          // examples or predicted tokens
  // False when the loss or a gradient was NaN or infinite: then no update was
  // applied (train_step), and the numbers above are not to be counted.
  bool finite = true;
};

template <class T>
class Objective {
 public:
  virtual ~Objective() = default;
  virtual Buffer<T>& weights() = 0;
  virtual Buffer<T>& grads() = 0;
  // Forward on one batch (dropout drawn from rng), the loss, and backward: the
  // gradients are added to grads(), which the caller zeroes first.
  virtual StepLoss forward_backward(const Batch& b, Rng& rng) = 0;
  // Whether the running numbers include an accuracy worth reporting.
  virtual bool reports_accuracy() const { return false; }
  // The recurrent state carried from one batch to the next (streams): per
  // layer (B, H), for checkpoints. Empty when nothing is carried.
  virtual void carried_state(std::vector<Matrix<T>>&, std::vector<Matrix<T>>&) const {}
  virtual void set_carried_state(const std::vector<Matrix<T>>&, const std::vector<Matrix<T>>&) {}
  // Whether forward_backward draws from its generator (dropout).
  virtual bool draws_random() const { return true; }
  // The model the seed's fused step (seed_step.hpp) may train in this
  // objective's place: one recurrent Model under the plain cross-entropy of
  // one class per sequence, the only loss that step knows. Null otherwise
  // (run_training then asks seed_step_applies about the rest of the settings).
  virtual Model<T>* fused_model() { return nullptr; }
};

// Many-to-one: cross-entropy of each sequence's class, from its final state,
// averaged over the batch (with label smoothing ε when `smoothing` > 0:
// layers.hpp).
template <class T>
class ManyToOne : public Objective<T> {
 public:
  explicit ManyToOne(Model<T>& model, double smoothing = 0) : model_(model), smoothing_(smoothing) {}
  Buffer<T>& weights() override { return model_.weights(); }
  Buffer<T>& grads() override { return model_.grads(); }
  StepLoss forward_backward(const Batch& b, Rng& rng) override;
  bool reports_accuracy() const override { return true; }
  bool draws_random() const override { return model_.config().dropout > 0; }
  Model<T>* fused_model() override { return smoothing_ > 0 ? nullptr : &model_; }

 private:
  Model<T>& model_;
  double smoothing_;
  typename Model<T>::Workspace ws_;
  // One sequence at a time: a workspace per length, so their shapes repeat and
  // nothing is allocated once every length has been seen.
  std::vector<typename Model<T>::Workspace> by_length_;
};

// Many-to-many: cross-entropy of the next symbol at every step, averaged over
// the batch's T*B predictions; the final state is carried into the next batch
// when that batch continues the streams. With `groups` > 1 (gradient
// accumulation) each group of streams (Batch::group) carries its own state;
// checkpoints see them one under the other, as the streams of one batch.
// `smoothing`: label smoothing ε (layers.hpp).
template <class T>
class ManyToMany : public Objective<T> {
 public:
  explicit ManyToMany(Model<T>& model, int groups = 1, double smoothing = 0)
      : model_(model), smoothing_(smoothing), carried_(std::size_t(groups)) {}
  Buffer<T>& weights() override { return model_.weights(); }
  Buffer<T>& grads() override { return model_.grads(); }
  StepLoss forward_backward(const Batch& b, Rng& rng) override;
  bool draws_random() const override { return model_.config().dropout > 0; }
  void carried_state(std::vector<Matrix<T>>& h, std::vector<Matrix<T>>& c) const override;
  void set_carried_state(const std::vector<Matrix<T>>& h, const std::vector<Matrix<T>>& c) override;

 private:
  Model<T>& model_;
  double smoothing_;
  typename Model<T>::Workspace ws_;
  struct Carried {
    std::vector<Matrix<T>> h, c;  // per layer (B, H); empty: zero state
  };
  std::vector<Carried> carried_;  // per group
};

// Forward passes only. A classifier's loss and accuracy on a labelled set, one
// sequence at a time (the probabilities of each when `probs` is given)...
template <class T>
Metrics evaluate_many_to_one(const Model<T>& model, const EncodedSet& data,
                             std::vector<std::vector<double>>* probs = nullptr);
// ... and a language model's loss on a sequence of ids, read as one stream with
// carried state (exactly the loss of one long pass), `chunk` symbols at a time.
template <class T>
Metrics evaluate_many_to_many(const Model<T>& model, const TokenStream& ids, int chunk = 256);
template <class T>
Metrics evaluate_many_to_many(const Model<T>& model, const std::vector<int>& ids, int chunk = 256) {
  return evaluate_many_to_many(model, TokenVector(ids), chunk);
}

// Which part of every step's batch this process trains on. A step's batch of
// G = batch x ranks x accumulate sequences is exactly the batch one process
// with --batch G takes; each of the N ranks trains on its share of it, in
// `accumulate` parts of about `batch` sequences each.
struct BatchSplit {
  int rank = 0, ranks = 1;  // this process, of N (data parallelism)
  int accumulate = 1;       // K parts per step (gradient accumulation)
  bool whole() const { return ranks == 1 && accumulate == 1; }
};

class Batcher {
 public:
  virtual ~Batcher() = default;
  virtual std::size_t steps_per_epoch() const = 0;
  virtual int batch_size() const = 0;    // B of each part (1: one sequence a step)
  virtual int parts() const { return 1; }  // batches this process trains on per step (--accumulate)
  virtual long step_size() const { return batch_size(); }  // G: sequences in a whole step, all processes
  // Begins a pass over the data, drawing its order from rng.
  virtual void begin_epoch(Rng& rng) = 0;
  // Part `part` (0 .. parts()-1) of this process's share of batch k of the
  // pass (valid until the next call). It may be empty (B = 0) when the pass's
  // last batch is too small to give every part a sequence.
  virtual const Batch& batch(std::size_t k, int part) = 0;
};

// Whole labelled sequences: each epoch shuffles the examples; with batch > 1,
// windows of 50 batches are sorted by length and cut (length bucketing), and
// the batches shuffled, so padding costs little and the order stays random.
// Split (BatchSplit), every process draws the same order of G-sized batches;
// rank r takes the batch's sequences r, r+N, r+2N, ... (the batch is sorted by
// length, so every rank gets as long a share as the others: none waits for a
// rank with all the long ones), and cuts them into `accumulate` runs of
// neighbours (similar lengths: little padding).
class BucketBatcher : public Batcher {
 public:
  BucketBatcher(const EncodedSet& data, int batch, BatchSplit split = {});
  std::size_t steps_per_epoch() const override;
  int batch_size() const override { return batch_; }
  int parts() const override { return split_.accumulate; }
  long step_size() const override { return step_; }
  void begin_epoch(Rng& rng) override;
  const Batch& batch(std::size_t k, int part) override;

 protected:
  // Packs the sequences `which` of the data into a batch; `step` are all the
  // sequences of the step it is part of.
  using Packer = std::function<Batch(const std::vector<int>& which, const std::vector<int>& step)>;
  // Batches of the sequences `seqs` (their lengths bucket them, then the
  // lengths of `ties` where given), made by `pack`.
  BucketBatcher(const std::vector<std::vector<int>>& seqs, int batch, BatchSplit split, Packer pack,
                const std::vector<std::vector<int>>* ties = nullptr);

 private:
  const std::vector<std::vector<int>>& seqs_;
  const std::vector<std::vector<int>>* ties_;
  Packer pack_;
  int batch_;
  BatchSplit split_;
  int step_;                    // G
  std::vector<int> order_;
  std::vector<std::vector<int>> groups_;
  std::vector<Batch> singles_;  // G = 1: every example's batch, built once
  std::vector<int> mine_;       // this process's part of a batch
  Batch built_;
};

// Source/target pairs, bucketed by source length as BucketBatcher buckets
// sequences, then by target length: batches with the decoder's side
// (make_pair_batch), the loss of a part averaged over the whole step's target
// symbols (Batch::global_tokens).
class PairBatcher : public BucketBatcher {
 public:
  PairBatcher(const std::vector<std::vector<int>>& src, const std::vector<std::vector<int>>& tgt, int batch,
              BatchSplit split, int bos, int eos);
};

// A text as `streams` parallel streams: stream b reads ids[b*span ...], and
// step k of a pass trains on the next `seq_len` symbols of every stream,
// predicting each next symbol. Every batch but a pass's first continues the
// one before (the state is carried); a new pass starts from zero state.
// Split (BatchSplit), the text is cut into G = streams x ranks x accumulate
// streams, exactly as one process with --batch G cuts it; rank r trains on
// streams [r*K*streams, (r+1)*K*streams), part j on the j-th `streams` of them.
class StreamBatcher : public Batcher {
 public:
  // Throws when the text is too short. The ids (in memory or on disk,
  // token_stream.hpp) must outlive the batcher; only a step's windows are read.
  StreamBatcher(const TokenStream& ids, int streams, int seq_len, BatchSplit split = {});
  StreamBatcher(const std::vector<int>& ids, int streams, int seq_len, BatchSplit split = {});
  StreamBatcher(std::unique_ptr<TokenStream> ids, int streams, int seq_len, BatchSplit split = {});
  std::size_t steps_per_epoch() const override { return per_pass_; }
  int batch_size() const override { return B_; }
  int parts() const override { return split_.accumulate; }
  long step_size() const override { return long(B_) * split_.ranks * split_.accumulate; }
  void begin_epoch(Rng&) override {}
  const Batch& batch(std::size_t k, int part) override;

 private:
  std::unique_ptr<TokenStream> owned_;  // a vector's view, when given one
  const TokenStream& ids_;
  int B_, T_;
  BatchSplit split_;
  std::size_t span_ = 0, per_pass_ = 0;
  Batch b_;
  std::vector<int> window_;  // one stream's T + 1 ids
};

// Where a run stands between two steps: enough to resume it exactly
// (checkpoint.hpp saves and loads it).
template <class T>
struct RunState {
  long epoch = 1, position = 0;  // the epoch in progress (1-based) and its steps done
  long steps = 0;                // steps done in the run
  Rng rng;                       // the generator now
  Rng rng_epoch;                 // the generator when the epoch began (its order is drawn from it)
  struct Running {               // training numbers since the epoch began / the last evaluation
    double loss = 0, weight = 0, correct = 0;
    long n = 0;
  } running;
  double lr_scale = 1;           // what plateau decay has made of the learning rate
  long nonfinite_skipped = 0;    // steps skipped for a non-finite loss or gradient (skip_nonfinite)
  // With validation: the best evaluation so far, its weights, and the evaluations since.
  bool has_best = false;
  long best_at = 0;
  Metrics best;
  long bad_evals = 0;
  Buffer<T> best_weights;
  Buffer<T> average;             // with TrainerOptions::average: the moving average of the weights
  std::vector<Matrix<T>> h, c;   // the recurrent state carried into the next step (streams): all
                                 // processes' streams, one under the other, as one process holds them
  long step_size = 0;            // G, sequences per step (all processes and parts); 0: not recorded
  int ranks = 1;                 // processes of the run that wrote it (a note: any N with the same G resumes it)
};

struct TrainerOptions {
  // What the run counts: epochs (classifiers) or steps (language models). Its
  // length, its evaluations and the learning-rate schedule go by that unit.
  bool by_epoch = true;
  long length = 1000;          // epochs or steps
  long every = 100;            // evaluate every N of them, and at the last; 0 = never
  StepOptions step;            // optimizer, clipping, schedule
  int patience = 0;            // stop after N evaluations without a better validation (0 = never)
  double plateau_decay = 1;    // multiply the learning rate by this at each evaluation without a better one
  bool checkpoints = false;    // periodic checkpoints; else only when a callback stops the run
  long checkpoint_every = 0;   // steps between them; 0 = at every evaluation. Always at the last step.
  // A step whose loss or gradients are not finite (NaN, inf): false stops the
  // run there (TrainResult::diverged), before anything is written from it;
  // true skips the step (no update) and goes on, counting it.
  bool skip_nonfinite = false;
  // An exponential moving average of the weights (Polyak averaging), 0 = none:
  // after each step a <- a + (1 - d)(w - a), with d = min(average, (1 + n)/(10 + n))
  // at the run's n-th step, so the first steps do not leave the initial weights
  // in it for long. Evaluations score the average, the best weights kept are
  // the average's, and a completed run ends with them; training goes on from
  // the weights themselves.
  double average = 0;
};

// What a share of held-out data adds to the whole's metrics: the shares'
// sums, added up, are the sums of the whole.
struct Tally {
  long n = 0;          // examples (Metrics::n)
  double loss = 0;     // the loss summed over what it is a mean of
  double weight = 0;   // what it is a mean of (examples, or target symbols)
  double correct = 0;  // with has_accuracy: of the n
  bool has_accuracy = false;
  Metrics metrics() const;
};

// Held-out data: each returns the model's metrics on it now. Empty: none.
// Data that splits (its examples scored one by one) may give the *_part form
// instead: rank `part` of `parts` scores its share, and the ranks' tallies add
// up, so that N ranks each score 1/N of it rather than all of it.
struct Evaluators {
  std::function<Metrics()> valid, test;
  std::function<Tally(int part, int parts)> valid_part, test_part;
};

template <class T>
struct TrainerHooks {
  std::function<bool(const StepEvent&)> on_step;         // after every step; false: stop (interrupted)
  std::function<bool(const Evaluation&)> on_evaluation;  // after every evaluation; false: stop
  // Called when a checkpoint is due, and when on_step stops the run. In a
  // data-parallel run on every rank, with the carried state of all ranks on
  // rank 0 (gathering it is collective); rank 0 writes.
  std::function<void(const RunState<T>&)> checkpoint;
  // Data parallelism: the processes of the run, every one running this loop
  // with a batcher split by rank (null or size 1: this process alone). Between
  // each step's backward pass and its optimizer step the gradients (and the
  // step's loss numbers) are summed over them; evaluations are rank 0's (every
  // rank computes them, rank 0's are broadcast, so all take the same
  // decisions); a stop asked by on_step on any rank stops every rank one step
  // later, together.
  Communicator* processes = nullptr;
};

// One training step on one batch, the one everyone takes: zero_grad, forward,
// loss, backward, clipping, the optimizer's update at learning rate lr. When the
// loss or any gradient is not finite the update is not applied and the
// result's `finite` is false (the weights are as they were). run_training takes
// the same step on the parts of a split batch, with the sum over processes
// before the clipping.
template <class T>
StepLoss train_step(Objective<T>& objective, Optimizer<T>& optimizer, const Batch& b, double lr,
                    const StepOptions& o, Rng& rng);

// Trains until the run's length, patience, or a callback stops it. With
// validation, the best evaluation's weights are kept, and a run that was not
// interrupted ends with them. `resume` continues a run where it stood.
//
// Numeric failures: a step whose loss or gradients are not finite stops the
// run (result.diverged; no checkpoint, no evaluation from that state), or is
// skipped with skip_nonfinite. The weights are also checked before every
// evaluation (whose best the caller may save), checkpoint and the end, so
// nothing non-finite is handed to a hook. The seed's fused step forms its
// gradients where it applies them: there a non-finite loss is caught before
// the update, and a non-finite gradient through the weights it leaves (the
// next step's loss, or the check before any evaluation or checkpoint).
template <class T>
TrainResult run_training(Objective<T>& objective, Batcher& batcher, Optimizer<T>& optimizer,
                         const TrainerOptions& o, Rng& rng, const Evaluators& evaluators = {},
                         const TrainerHooks<T>& hooks = {}, const RunState<T>* resume = nullptr);

}  // namespace recur
