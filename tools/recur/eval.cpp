// recur eval — a trained model's loss and accuracy on labelled data, or a
// language model's loss on a text.
#include <cstdio>
#include <iostream>
#include <memory>

#include "common.hpp"
#include "recur/classifier.hpp"
#include "recur/language_model.hpp"

namespace recur_cli {
namespace {

struct EvalArgs {
  std::string model, data, text, format = "text";
  recur::DataOptions data_flags;
};

void eval_lm(const EvalArgs& a) {
  if (a.text.empty()) throw recur::Error(a.model + ": a language model: evaluate it with --text FILE");
  const recur::LanguageModel lm = recur::LanguageModel::load(a.model);
  const recur::LmReport r = lm.evaluate(recur::read_text_file(a.text), a.text);
  if (a.format == "json")
    std::cout << r.json() << '\n';
  else
    std::printf("n\t%ld\nloss\t%.4f\nbits_per_token\t%.4f\n", r.metrics.n, r.metrics.loss, r.metrics.bits());
  if (r.unknown_tokens)
    note(a.text + ": " + std::to_string(r.unknown_tokens) + " tokens not in the model's vocabulary (mapped to " +
         recur::kUnknownToken + ")");
}

void eval_command(const EvalArgs& a) {
  if (recur::model_task(a.model) == "lm") return eval_lm(a);
  if (a.data.empty()) throw recur::Error(a.model + ": a classifier: evaluate it with --data FILE (TSV)");
  const recur::Classifier clf = recur::Classifier::load(a.model);
  const recur::EvalReport r = clf.evaluate(load_data(a.data, a.data_flags), a.data);
  const auto& labels = clf.labels();
  if (a.format == "json") {
    std::cout << r.json() << '\n';
  } else {
    std::printf("n\t%ld\nloss\t%.4f\naccuracy\t%.4f\nmacro_f1\t%.4f\n\n", r.metrics.n, r.metrics.loss,
                r.metrics.accuracy, r.macro_f1);
    std::printf("%-16s %9s %9s %9s %9s\n", "label", "precision", "recall", "f1", "support");
    for (std::size_t c = 0; c < r.per_class.size(); ++c)
      std::printf("%-16s %9.4f %9.4f %9.4f %9ld\n", labels[c].c_str(), r.per_class[c].precision,
                  r.per_class[c].recall, r.per_class[c].f1, r.per_class[c].support);
    std::printf("\nconfusion (rows: true label, columns: predicted)\n%-16s", "");
    for (const auto& l : labels) std::printf(" %9.9s", l.c_str());
    std::printf("\n");
    for (std::size_t c = 0; c < r.confusion.size(); ++c) {
      std::printf("%-16.16s", labels[c].c_str());
      for (long v : r.confusion[c]) std::printf(" %9ld", v);
      std::printf("\n");
    }
  }
  if (r.unknown_words)
    note(a.data + ": " + std::to_string(r.unknown_words) + " words not in the model's vocabulary (" +
         recur::unknown_words_policy(clf.info().vocab) + ")");
}

}  // namespace

void setup_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "Evaluate a model. A classifier on labelled TSV data (--data): number of examples,\n"
      "mean cross-entropy loss (nats), accuracy and macro-F1. A language model on a text\n"
      "(--text): predicted tokens, loss in nats per token, bits per token.");
  cmd->add_option("--model", a->model, "Model file written by recur train --save")->required()->check(CLI::ExistingFile);
  cmd->add_option("--data", a->data, "Classifier: labelled data, TSV")->check(CLI::ExistingFile);
  cmd->add_option("--text", a->text, "Language model: a text to score")->check(CLI::ExistingFile);
  add_data_flags(cmd, a->data_flags);
  cmd->add_option("--format", a->format, "Output format")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  cmd->callback([a] { eval_command(*a); });
}

}  // namespace recur_cli
