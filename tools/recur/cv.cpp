// recur cv — k-fold cross-validation of a classifier's settings: the data is
// cut into K stratified folds (seeded by --seed); each fold is held out once as
// the test set while a model with the given train flags learns from the rest
// (recur::cross_validate). Prints every fold's scores and their mean ± sample
// standard deviation.
#include <cstdio>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "common.hpp"
#include "progress.hpp"
#include "recur/classifier.hpp"

namespace recur_cli {
namespace {

void cv_command(const TrainArgs& a) {
  if (a.train.empty()) throw recur::Error("recur cv needs --data FILE (all the labelled data)");
  if (!a.test.empty() || !a.valid.empty())
    throw recur::Error("recur cv makes its own test sets (the folds); use --valid-fraction for validation");
  if (!a.o.save.empty() || !a.o.resume.empty() || !a.o.checkpoint.empty() || !a.report.empty() || !a.log_json.empty())
    throw recur::Error("recur cv trains one model per fold and keeps none: --save, --resume, --checkpoint, "
                       "--report and --log-json are for recur train");
  recur::check(a.o);
  if (a.folds < 2) throw recur::Error("--folds must be at least 2");

  const std::vector<recur::LabeledText> rows = load_data(a.train, a.data);
  const std::vector<int> fold_of = recur::cv_folds(rows, a.folds, a.o.seed);
  if (!a.folds_out.empty()) {  // so another tool can be scored on exactly these folds
    std::string out = "line\tfold\n";
    for (std::size_t i = 0; i < rows.size(); ++i)
      out += std::to_string(rows[i].line) + "\t" + std::to_string(fold_of[i]) + "\n";
    recur::write_file_atomic(a.folds_out, out);
  }
  const bool text = a.cv_format == "text";
  if (text && !a.quiet) std::printf("%zu examples, %d stratified folds (seed %u)\n", rows.size(), a.folds, a.o.seed);

  std::unique_ptr<Progress> progress;
  std::string head;
  recur::CvCallbacks cb;
  cb.on_fold_begin = [&](int k) {
    progress = std::make_unique<Progress>(!a.quiet);
    head = "fold " + std::to_string(k + 1) + "/" + std::to_string(a.folds) + " ";
  };
  cb.train.on_step = [&](const recur::StepEvent& ev) {
    progress->update([&] { return head + "epoch " + std::to_string(ev.epoch) + "/" + std::to_string(ev.epochs); },
                     ev.step, ev.steps, ev.loss, ev.tokens);
    return !interrupted();
  };
  cb.on_fold_end = [&](int k, const recur::CvFold& f) {
    progress->clear();
    if (!text || a.quiet) return;
    std::printf("fold %2d/%d  test %4ld | accuracy %.4f | macro-F1 %.4f | loss %.4f", k + 1, a.folds,
                f.test.metrics.n, f.test.metrics.accuracy, f.test.macro_f1, f.test.metrics.loss);
    if (f.result.has_best) std::printf(" | best epoch %ld", f.result.best_at);
    std::printf(" | %.1f s\n", f.seconds);
    std::fflush(stdout);
  };
  const recur::CvResult r = recur::cross_validate(rows, a.train, fold_of, a.folds, a.o, cb);
  if (progress) progress->clear();
  if (interrupted()) throw Interrupted();
  if (text) {
    std::printf("accuracy %.4f ± %.4f | macro-F1 %.4f ± %.4f | loss %.4f ± %.4f  (mean ± std over %d folds)\n",
                r.accuracy.mean, r.accuracy.std, r.macro_f1.mean, r.macro_f1.std, r.loss.mean, r.loss.std, a.folds);
  } else {
    nlohmann::ordered_json j;
    j["folds"] = a.folds;
    j["n"] = rows.size();
    j["seed"] = a.o.seed;
    std::vector<double> acc, f1, loss, secs;
    for (const auto& f : r.folds)
      acc.push_back(f.test.metrics.accuracy), f1.push_back(f.test.macro_f1), loss.push_back(f.test.metrics.loss),
          secs.push_back(f.seconds);
    auto put = [&](const char* key, const recur::Summary& s, const std::vector<double>& xs) {
      j[key] = {{"mean", s.mean}, {"std", s.std}, {"per_fold", xs}};
    };
    put("accuracy", r.accuracy, acc);
    put("macro_f1", r.macro_f1, f1);
    put("loss", r.loss, loss);
    j["seconds"] = secs;
    std::cout << j.dump() << '\n';
  }
}

}  // namespace

void setup_cv(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand(
      "cv",
      "Cross-validate a classifier's settings: cut --data into --folds stratified folds\n"
      "(seeded by --seed), train on all folds but one and test on that one, for each\n"
      "fold; print each fold's accuracy, macro-F1 and loss, and their mean ± std.\n"
      "Takes the flags of recur train (cell, sizes, optimizer, epochs, --valid-fraction\n"
      "and --patience for early stopping inside each fold, --preset ...).");
  add_train_flags(cmd, *a, /*cv=*/true);
  cmd->add_option("--folds", a->folds, "Number of folds K")->capture_default_str();
  cmd->add_option("--folds-out", a->folds_out,
                  "Write each example's fold here (TSV: line<TAB>fold, 0-based folds), to score other\n"
                  "tools on the same folds");
  cmd->add_option("--format", a->cv_format, "Output: text, or json (one object with every fold's scores)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->callback([a, cmd] {
    TrainArgs args = *a;
    recur::apply_defaults(args.o, given_flags(*cmd));
    if (args.o.task != "classify") throw recur::Error("recur cv cross-validates classifiers (--task classify)");
    cv_command(args);
  });
}

}  // namespace recur_cli
