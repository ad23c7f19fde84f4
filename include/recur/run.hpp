// recur/run.hpp — what a training run reports, to any front door: the numbers
// of an evaluation, the event after each step, and how the run ended. No
// engine types here, so a program that only trains and reads these needs no Eigen.
#pragma once

#include <cmath>
#include <functional>
#include <string>

#include "recur/config.hpp"

namespace recur {

struct Metrics {
  long n = 0;             // examples (many-to-one) or predicted tokens (many-to-many)
  double loss = 0;        // mean cross-entropy, nats per example or token
  double accuracy = 0;    // many-to-one
  bool has_accuracy = false;
  double bits() const { return loss / std::log(2.0); }  // bits per token
};

// The one rule for which of two evaluations is better, and so which weights a
// run keeps and when patience runs out: lower loss — except that a classifier
// compares accuracy first, with loss breaking ties (small validation sets tie
// on accuracy often).
bool better(const Metrics& a, const Metrics& b);

// An evaluation, every `every` epochs (classifiers) or steps (language models)
// and at the end of the run.
struct Evaluation {
  long epoch = 0, epochs = 0;  // the epoch just ended, of (epoch-counted runs; else 0)
  long step = 0, steps = 0;    // steps done in the run, of
  double lr = 0;               // the learning rate of the last step
  // Training loss (and accuracy), accumulated during the epoch (epoch-counted
  // runs, each batch before its update, as the seed does) or since the last
  // evaluation (step-counted runs).
  Metrics train;
  bool has_valid = false;
  Metrics valid;
  bool best = false;           // the best validation so far (the weights a run with validation ends with)
  bool has_test = false;
  Metrics test;
  double tokens_per_s = 0;     // training speed since the last evaluation
};

// The seed post's log lines for an evaluation of an epoch-counted run:
//   --- Epoch 100
//   Train:\tLoss 0.688 | Accuracy: 0.552
//   Test:\tLoss 0.700 | Accuracy: 0.500
// with a "Valid:" line before the test line when there is validation data
// (marked " *" when it is the best so far).
std::string format_seed_log(const Evaluation& e);

// An evaluation as one JSON object (--log-json, the Python callback):
// epoch-counted runs {"epoch", "train_loss", "train_accuracy", "valid_loss",
// "valid_accuracy", "best", "test_loss", "test_accuracy"}; step-counted runs
// {"step", "lr", "train_loss", "valid_loss", "valid_bits", "best", "tokens_per_s"}
// (validation and test keys only when there is such data).
std::string to_json(const Evaluation& e);

// After every step.
struct StepEvent {
  long epoch = 0, epochs = 0;  // the epoch of this step (1-based), of (epoch-counted runs; else 0)
  long position = 0;           // steps of the epoch done
  long step = 0, steps = 0;    // steps of the run done, of
  bool epoch_end = false;      // the epoch's last step (its evaluation, if any, is done)
  double loss = 0;             // mean training loss since the epoch began or the last evaluation
  long tokens = 0;             // tokens in this step's batch
};

// How a run ended.
struct TrainResult {
  long epochs_run = 0;         // epochs begun (epoch-counted runs)
  long steps_run = 0;          // steps taken, in all (a resumed run counts from its start)
  long epoch = 0, position = 0;  // where the last step was: its epoch, and steps of that epoch done
  bool stopped_early = false;  // by patience
  bool interrupted = false;    // a callback asked to stop (a checkpoint was written if there is a path)
  bool has_best = false;       // validation data was given and evaluated
  long best_at = 0;            // the best evaluation's epoch (epoch-counted runs) or step
  Metrics best;                // its validation metrics; a run that was not interrupted ends with its weights
  // Numeric failure: the run stopped at step `diverged_at` (1-based, counted
  // over the whole run) because `diverged_why` ("the loss is not finite", ...)
  // was NaN or infinite. Nothing was checkpointed or evaluated from that state.
  bool diverged = false;
  long diverged_at = 0;
  std::string diverged_why;
  long skipped_steps = 0;      // steps skipped as not finite (skip_nonfinite), in the whole run
  long first_skipped = 0;      // the first of them in this process (0: none)
};

// A run's data is ready and its model built, before the first step.
struct RunStart {
  const ModelInfo* info = nullptr;  // tokenizer, vocabulary, labels, sizes (null for a sequence-to-sequence model)
  long train = 0, valid = 0, test = 0;  // examples (classifier) or tokens (language model)
};

// What a front door hears from a training run. Every callback may be empty.
struct TrainCallbacks {
  std::function<void(const RunStart&)> on_start;
  // Things worth telling a user: words of held-out data the vocabulary does
  // not know, the run being resumed. One line each, without a prefix.
  std::function<void(const std::string&)> on_note;
  // After every step (progress bars, Ctrl-C). Returning false stops the run
  // now: a checkpoint is written first (float32 runs), and it can be resumed.
  std::function<bool(const StepEvent&)> on_step;
  // After every evaluation (logs, plots). Returning false ends the run there,
  // with the best weights, as patience would.
  std::function<bool(const Evaluation&)> on_evaluation;
};

}  // namespace recur
