// recur cv — k-fold cross-validation of a classifier's settings: the data is
// cut into K stratified folds (seeded by --seed); each fold is held out once as
// the test set while a model with the given train flags learns from the rest.
// Prints every fold's scores and their mean ± sample standard deviation.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "classify.hpp"
#include "common.hpp"
#include "train_args.hpp"

namespace recur_cli {
namespace {

struct Stat {
  double mean = 0, std = 0;  // sample standard deviation (n - 1)
};
Stat stat_of(const std::vector<double>& xs) {
  Stat s;
  for (const double x : xs) s.mean += x;
  s.mean /= double(xs.size());
  if (xs.size() > 1) {
    for (const double x : xs) s.std += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(s.std / double(xs.size() - 1));
  }
  return s;
}

void cv_command(const TrainArgs& a) {
  check_common(a);
  if (a.train.empty()) throw recur::Error("recur cv needs --data FILE (all the labelled data)");
  if (!a.test.empty() || !a.valid.empty())
    throw recur::Error("recur cv makes its own test sets (the folds); use --valid-fraction for validation");
  if (!a.save.empty() || !a.resume.empty() || !a.checkpoint.empty() || !a.report.empty() || !a.log_json.empty())
    throw recur::Error("recur cv trains one model per fold and keeps none: --save, --resume, --checkpoint, "
                       "--report and --log-json are for recur train");
  if (a.folds < 2) throw recur::Error("--folds must be at least 2");
  if (a.epochs < 1) throw recur::Error("--epochs must be at least 1");
  if (!(a.valid_fraction >= 0 && a.valid_fraction < 1)) throw recur::Error("--valid-fraction must be in [0, 1)");
  if (a.patience > 0 && !(a.valid_fraction > 0)) throw recur::Error("--patience needs --valid-fraction");

  const std::vector<recur::LabeledText> rows = load_data(a.train, a.data);
  recur::Rng fold_rng(a.seed ^ 0x666f6c64u);  // "fold": a stream of its own
  const std::vector<int> fold = recur::stratified_folds(rows, a.folds, fold_rng);
  if (!a.folds_out.empty()) {  // so another tool can be scored on exactly these folds
    std::string out = "line\tfold\n";
    for (std::size_t i = 0; i < rows.size(); ++i)
      out += std::to_string(rows[i].line) + "\t" + std::to_string(fold[i]) + "\n";
    recur::write_file_atomic(a.folds_out, out);
  }
  const bool text = a.cv_format == "text";
  if (text && !a.quiet)
    std::printf("%zu examples, %d stratified folds (seed %u)\n", rows.size(), a.folds, a.seed);
  std::vector<double> acc, f1, loss, secs;
  for (int k = 0; k < a.folds; ++k) {
    std::vector<int> held;
    for (std::size_t i = 0; i < rows.size(); ++i)
      if (fold[i] == k) held.push_back(int(i));
    std::vector<recur::LabeledText> train = recur::select(rows, held, false), test = recur::select(rows, held, true);
    std::vector<recur::LabeledText> valid = split_validation(a, train);
    const std::string name = a.train + " (fold " + std::to_string(k + 1) + ")";
    const ClassifySets d = prepare_classify(a, std::move(train), std::move(valid), std::move(test), name,
                                            name + " validation", name + " test", /*quiet=*/true);
    const std::string head = "fold " + std::to_string(k + 1) + "/" + std::to_string(a.folds) + " ";
    const ClassifyOutcome out = run_classifier(a, d, RunMode::fold, head);
    const Report r = report(*out.model, *d.test, d.info.config.classes);
    acc.push_back(r.metrics.accuracy), f1.push_back(r.macro_f1), loss.push_back(r.metrics.loss);
    secs.push_back(out.seconds);
    if (text && !a.quiet) {
      std::printf("fold %2d/%d  test %4zu | accuracy %.4f | macro-F1 %.4f | loss %.4f", k + 1, a.folds,
                  d.test->ids.size(), r.metrics.accuracy, r.macro_f1, r.metrics.loss);
      if (out.result.has_best) std::printf(" | best epoch %ld", out.result.best_epoch);
      std::printf(" | %.1f s\n", out.seconds);
      std::fflush(stdout);
    }
  }
  const Stat sa = stat_of(acc), sf = stat_of(f1), sl = stat_of(loss);
  if (text) {
    std::printf("accuracy %.4f ± %.4f | macro-F1 %.4f ± %.4f | loss %.4f ± %.4f  (mean ± std over %d folds)\n",
                sa.mean, sa.std, sf.mean, sf.std, sl.mean, sl.std, a.folds);
  } else {
    nlohmann::ordered_json j;
    j["folds"] = a.folds;
    j["n"] = rows.size();
    j["seed"] = a.seed;
    auto put = [&](const char* key, const Stat& s, const std::vector<double>& xs) {
      j[key] = {{"mean", s.mean}, {"std", s.std}, {"per_fold", xs}};
    };
    put("accuracy", sa, acc);
    put("macro_f1", sf, f1);
    put("loss", sl, loss);
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
    args.tokenizer_given = cmd->count("--tokenizer") > 0;
    apply_defaults(args, *cmd);
    if (args.task != "classify") throw recur::Error("recur cv cross-validates classifiers (--task classify)");
    cv_command(args);
  });
}

}  // namespace recur_cli
