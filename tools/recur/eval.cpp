// recur eval — a trained classifier's loss and accuracy on labelled data.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "common.hpp"
#include "recur/lm.hpp"

namespace recur_cli {
namespace {

struct EvalArgs {
  std::string model, data, text, format = "text";
  DataFlags data_flags;
};

void eval_lm(const EvalArgs& a, const recur::LoadedModel& m) {
  if (a.text.empty()) throw recur::Error(a.model + ": a language model: evaluate it with --text FILE");
  long unknown = 0;
  const std::vector<int> ids =
      recur::encode_text(recur::read_text_file(a.text), m.info.vocab, m.info.tokenizer, &unknown);
  if (ids.size() < 2) throw recur::Error(a.text + ": fewer than 2 tokens");
  const recur::LmMetrics r = recur::evaluate_lm(m.model, ids);
  if (a.format == "json") {
    nlohmann::ordered_json j;
    j["n"] = r.n;
    j["loss"] = r.loss;
    j["bits_per_token"] = r.bits();
    j["unknown_tokens"] = unknown;
    std::cout << j.dump() << '\n';
  } else {
    std::printf("n\t%ld\nloss\t%.4f\nbits_per_token\t%.4f\n", r.n, r.loss, r.bits());
  }
  if (unknown)
    std::fprintf(stderr, "recur: %s: %ld tokens not in the model's vocabulary (mapped to %s)\n", a.text.c_str(),
                 unknown, recur::kUnknownToken.c_str());
}

void eval_command(const EvalArgs& a) {
  recur::LoadedModel m = recur::load_model(a.model);
  if (m.info.config.task == recur::Task::lm) return eval_lm(a, m);
  if (a.data.empty()) throw recur::Error(a.model + ": a classifier: evaluate it with --data FILE (TSV)");
  auto rows = load_data(a.data, a.data_flags);
  for (auto& r : rows) r.text = normalize(r.text, m.info);
  const recur::EncodedSet set = recur::encode_set(rows, m.info.vocab, m.info.tokenizer, m.info.labels, a.data);
  const Report r = report(m.model, set, m.info.config.classes);
  if (a.format == "json") {
    nlohmann::ordered_json j;
    j["n"] = r.metrics.n;
    j["loss"] = r.metrics.loss;
    j["accuracy"] = r.metrics.accuracy;
    j["macro_f1"] = r.macro_f1;
    j["unknown_words"] = set.n_unknown;
    j["labels"] = m.info.labels;
    j["confusion"] = r.confusion;
    nlohmann::ordered_json per = nlohmann::ordered_json::object();
    for (std::size_t c = 0; c < r.per_class.size(); ++c)
      per[m.info.labels[c]] = {{"precision", r.per_class[c].precision},
                               {"recall", r.per_class[c].recall},
                               {"f1", r.per_class[c].f1},
                               {"support", r.per_class[c].support}};
    j["per_class"] = per;
    std::cout << j.dump() << '\n';
  } else {
    std::printf("n\t%ld\nloss\t%.4f\naccuracy\t%.4f\nmacro_f1\t%.4f\n\n", r.metrics.n, r.metrics.loss,
                r.metrics.accuracy, r.macro_f1);
    std::printf("%-16s %9s %9s %9s %9s\n", "label", "precision", "recall", "f1", "support");
    for (std::size_t c = 0; c < r.per_class.size(); ++c)
      std::printf("%-16s %9.4f %9.4f %9.4f %9ld\n", m.info.labels[c].c_str(), r.per_class[c].precision,
                  r.per_class[c].recall, r.per_class[c].f1, r.per_class[c].support);
    std::printf("\nconfusion (rows: true label, columns: predicted)\n%-16s", "");
    for (const auto& l : m.info.labels) std::printf(" %9.9s", l.c_str());
    std::printf("\n");
    for (std::size_t c = 0; c < r.confusion.size(); ++c) {
      std::printf("%-16.16s", m.info.labels[c].c_str());
      for (long v : r.confusion[c]) std::printf(" %9ld", v);
      std::printf("\n");
    }
  }
  if (set.n_unknown)
    std::fprintf(stderr, "recur: %s: %ld words not in the model's vocabulary (%s)\n",
                 a.data.c_str(), set.n_unknown, unknown_words_policy(m.info.vocab).c_str());
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
