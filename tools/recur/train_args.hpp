// The flags of `recur train`, shared by its two tasks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common.hpp"
#include "recur/checkpoint.hpp"
#include "recur/optim.hpp"

namespace recur_cli {

struct TrainArgs {
  std::string task = "classify", preset;
  // classify
  std::string train, test, valid;
  DataFlags data;
  bool lowercase = false;
  int epochs = 1000, log_every = 0;  // 0: a tenth of the epochs (100 for the seed's 1000)
  int min_count = 1, max_vocab = 0;
  // cv
  int folds = 10;
  std::string folds_out, cv_format = "text";
  // lm
  std::string text, valid_text, tokenizer = "char";
  bool tokenizer_given = false;
  double valid_fraction = 0, plateau_decay = 1;
  long steps = 2000, eval_every = 200;
  int seq_len = 64, patience = 0;
  // model
  std::string save, cell = "rnn", init = "seed", dtype = "f32";
  int hidden = 64, layers = 1, embed = 0;
  bool bidirectional = false, bias_hh = false, forget_bias = false, nesterov = false;
  double dropout = 0;
  // optimization
  int batch = 1, step_size = 10;
  std::string optimizer = "sgd", schedule = "constant";
  double lr = 0.02, clip = 1.0, clip_norm = 0, momentum = 0.9, weight_decay = 0, gamma = 0.5;
  std::uint32_t seed = 1;
  bool quiet = false;
  std::string log_json, report;
  // checkpoints
  std::string checkpoint, resume;
  long checkpoint_every = 0;
};

// Checkpoints and Ctrl-C. SIGINT/SIGTERM set a flag; the training loops check it
// after each step, write a checkpoint and stop; the command then exits with
// Interrupted (status 130).
struct Interrupted {};
void install_interrupt_handlers();
bool interrupted();
// --checkpoint, or <save>.ckpt; with neither, recur-train.ckpt, written only on Ctrl-C.
std::string checkpoint_path(const TrainArgs& a);
void report_interrupt(const std::string& ckpt, long epoch_or_step, long position);
// Loads a checkpoint for --resume: checks it is of the model these flags and data
// build, and restores the parameters and the optimizer; the caller takes the
// run's position from the returned state.
std::unique_ptr<recur::LoadedCheckpoint> resume_run(const std::string& path, const recur::ModelInfo& info,
                                                    recur::Model<float>& model, recur::Optimizer<float>& optimizer);

void check_common(const TrainArgs& a);  // flags both tasks share; throws recur::Error
// The flags as "--flag value" pairs, for a report's settings table.
std::vector<std::pair<std::string, std::string>> settings_of(const TrainArgs& a);
// The flags of recur train; for recur cv (`cv`) those that make sense there,
// with the data file as --data.
void add_train_flags(CLI::App* cmd, TrainArgs& a, bool cv = false);
// Presets and the language model's defaults fill in every flag not given.
void apply_defaults(TrainArgs& a, const CLI::App& cmd);
recur::StepOptions step_options(const TrainArgs& a);  // optimizer, schedule, clipping
void train_lm_command(const TrainArgs& a);

}  // namespace recur_cli
