#include "common.hpp"

#include <csignal>

#include "train_args.hpp"

#include <cctype>
#include <cstdio>

namespace recur_cli {

namespace {
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_signal(int) { g_interrupted = 1; }
}  // namespace

void install_interrupt_handlers() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

bool interrupted() { return g_interrupted != 0; }

std::string checkpoint_path(const TrainArgs& a) {
  if (!a.checkpoint.empty()) return a.checkpoint;
  if (!a.save.empty()) return a.save + ".ckpt";
  return "recur-train.ckpt";
}

void report_interrupt(const std::string& ckpt, long epoch_or_step, long position) {
  std::fprintf(stderr, "recur: interrupted at %ld/%ld; checkpoint written to %s (continue with --resume %s)\n",
               epoch_or_step, position, ckpt.c_str(), ckpt.c_str());
}

// The model file a checkpoint was built for must be the one these flags and
// data build now, or resuming would continue a different run.
static void check_same_run(const recur::ModelInfo& ck, const recur::ModelInfo& now, const std::string& path) {
  const auto& a = ck.config;
  const auto& b = now.config;
  if (a.cell != b.cell || a.vocab != b.vocab || a.embed != b.embed || a.hidden != b.hidden || a.layers != b.layers ||
      a.bidirectional != b.bidirectional || a.classes != b.classes || a.bias_hh != b.bias_hh ||
      ck.vocab.tokens() != now.vocab.tokens() || ck.labels != now.labels || ck.tokenizer != now.tokenizer)
    throw recur::Error(path + ": this checkpoint is of a different model or data; resume with the flags and files "
                       "of the run that wrote it");
}

std::unique_ptr<recur::LoadedCheckpoint> resume_run(const std::string& path, const recur::ModelInfo& info,
                                                    recur::Model<float>& model, recur::Optimizer<float>& optimizer) {
  auto ck = std::make_unique<recur::LoadedCheckpoint>(recur::load_checkpoint(path));
  check_same_run(ck->loaded.info, info, path);
  if (ck->m.size() != optimizer.first_moment().size() || ck->v.size() != optimizer.second_moment().size())
    throw recur::Error(path + ": this checkpoint was written with another optimizer; resume with the same --optimizer");
  model.weights() = ck->loaded.model.weights();
  optimizer.first_moment() = ck->m;
  optimizer.second_moment() = ck->v;
  optimizer.set_steps(ck->optimizer_steps);
  return ck;
}

void add_data_flags(CLI::App* cmd, DataFlags& f) {
  cmd->add_option("--data-format", f.format, "Data format: tsv (text<TAB>label), csv, jsonl (default: by extension)")
      ->check(CLI::IsMember({"tsv", "csv", "jsonl"}));
  cmd->add_option("--text-col", f.load.text_col, "csv: text column name or 0-based index; jsonl: text field")
      ->capture_default_str();
  cmd->add_option("--label-col", f.load.label_col, "csv: label column name or 0-based index; jsonl: label field")
      ->capture_default_str();
  cmd->add_flag("--header", f.load.header, "csv with column indices: the first row is a header");
  cmd->add_flag("--skip-bad", f.load.skip_bad, "Skip malformed records (counted on stderr) instead of stopping");
}

std::vector<recur::LabeledText> load_data(const std::string& path, const DataFlags& f) {
  recur::LoadReport report;
  const recur::DataFormat format = f.format.empty() ? recur::format_from_path(path) : recur::format_from_string(f.format);
  auto rows = recur::load_labeled(path, format, f.load, &report);
  if (report.skipped)
    std::fprintf(stderr, "recur: %s: skipped %ld malformed records (the first: %s)\n", path.c_str(), report.skipped,
                 report.first_error.c_str());
  return rows;
}

JsonLog::JsonLog(const std::string& path) {
  if (path.empty()) return;
  f_ = std::fopen(path.c_str(), "w");
  if (!f_) throw recur::Error(path + ": cannot write the JSON log");
}

JsonLog::~JsonLog() {
  if (f_) std::fclose(f_);
}

void JsonLog::write(const std::string& json_object) {
  if (!f_) return;
  std::fputs(json_object.c_str(), f_);
  std::fputc('\n', f_);
  std::fflush(f_);
}

std::string unknown_words_policy(const recur::Vocabulary& vocab) {
  return vocab.id(recur::kUnknownToken) != recur::Vocabulary::unknown ? "mapped to " + recur::kUnknownToken
                                                                      : "each given a zero input vector";
}

std::string normalize(const std::string& text, const recur::ModelInfo& info) {
  if (!info.lowercase) return text;
  std::string s = text;
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return s;
}

Report report(const recur::Model<float>& model, const recur::EncodedSet& data, int classes) {
  Report r;
  std::vector<std::vector<double>> probs;
  r.metrics = recur::evaluate(model, data, &probs);
  r.confusion.assign(std::size_t(classes), std::vector<long>(std::size_t(classes), 0));
  for (std::size_t i = 0; i < probs.size(); ++i) {
    int best = 0;
    for (int c = 1; c < classes; ++c)
      if (probs[i][std::size_t(c)] > probs[i][std::size_t(best)]) best = c;
    ++r.confusion[std::size_t(data.targets[i])][std::size_t(best)];
  }
  // Per class: precision TP/(TP+FP), recall TP/(TP+FN), F1 = 2TP/(2TP+FP+FN);
  // macro-F1 is the unweighted mean of F1 over the classes, leaving out a class
  // absent from the data and never predicted.
  double sum = 0;
  int counted = 0;
  r.per_class.resize(std::size_t(classes));
  for (int c = 0; c < classes; ++c) {
    long tp = r.confusion[std::size_t(c)][std::size_t(c)], fp = 0, fn = 0;
    for (int o = 0; o < classes; ++o)
      if (o != c) {
        fp += r.confusion[std::size_t(o)][std::size_t(c)];
        fn += r.confusion[std::size_t(c)][std::size_t(o)];
      }
    ClassScores& s = r.per_class[std::size_t(c)];
    s.support = tp + fn;
    s.precision = tp + fp ? double(tp) / double(tp + fp) : 0.0;
    s.recall = tp + fn ? double(tp) / double(tp + fn) : 0.0;
    s.f1 = tp + fp + fn ? 2.0 * double(tp) / double(2 * tp + fp + fn) : 0.0;
    if (tp + fp + fn == 0) continue;
    sum += s.f1;
    ++counted;
  }
  r.macro_f1 = counted ? sum / counted : 0.0;
  return r;
}

}  // namespace recur_cli
