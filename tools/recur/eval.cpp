// recur eval — a trained model's loss and accuracy on labelled data, or a
// language model's loss on a text.
#include <cstdio>
#include <iostream>
#include <memory>

#include "common.hpp"
#include "recur/classifier.hpp"
#include "recur/language_model.hpp"
#include "recur/translator.hpp"

namespace recur_cli {
namespace {

struct EvalArgs {
  std::vector<std::string> models;  // several: sequence-to-sequence models decoding as one
  std::string model, data, text, format = "text";
  recur::DataOptions data_flags;
  recur::DecodeOptions decode;
};

void eval_seq2seq(const EvalArgs& a) {
  if (a.data.empty()) throw recur::Error(a.model + ": a sequence-to-sequence model: evaluate it with --data FILE (source<TAB>target)");
  recur::check(a.decode);
  const std::vector<recur::Translator> models = load_translators(a.models);
  std::vector<const recur::Translator*> ensemble;
  for (const auto& m : models) ensemble.push_back(&m);
  const recur::Seq2SeqReport r = recur::evaluate(ensemble, load_data(a.data, a.data_flags), a.decode, a.data);
  if (a.format == "json") {
    std::cout << r.json() << '\n';
  } else {
    std::printf("n\t%ld\npairs\t%ld\nloss\t%.4f\nsequence_accuracy\t%.4f\nsequence_error_rate\t%.4f\n"
                "token_error_rate\t%.4f\n",
                r.n, r.pairs, r.loss, r.sequence_accuracy, r.sequence_error_rate, r.token_error_rate);
    if (r.has_bleu) std::printf("bleu\t%.4f\n", r.bleu);
  }
  if (r.unknown)
    note(a.data + ": " + std::to_string(r.unknown) + " source symbols not in the model's vocabulary (read as " +
         recur::kUnknownToken + ")");
}

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

void eval_command(EvalArgs a) {
  a.model = a.models.front();
  const std::string task = recur::model_task(a.model);
  if (a.models.size() > 1 && task != "seq2seq")
    throw recur::Error("--model given " + std::to_string(a.models.size()) +
                       " times: only sequence-to-sequence models evaluate together (" + a.model + " is not one)");
  if (task == "lm") return eval_lm(a);
  if (task == "seq2seq") return eval_seq2seq(a);
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
         clf.info().unknown_words_policy() + ")");
}

}  // namespace

void setup_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval",
      "Evaluate a model. A classifier on labelled TSV data (--data): number of examples,\n"
      "mean cross-entropy loss (nats), accuracy and macro-F1. A language model on a text\n"
      "(--text): predicted tokens, loss in nats per token, bits per token. A sequence-to-\n"
      "sequence model on source<TAB>target pairs (--data): loss per target symbol, the share of\n"
      "sources whose output equals one of their references (sequence accuracy; its complement\n"
      "is the word error rate of G2P), the symbol error rate (edit distance to the closest\n"
      "reference / its length), and BLEU-4 for word targets; decoded with --beam.");
  add_model_files(cmd, a->models,
                  "Model file written by recur train --save; sequence-to-sequence models given more than\n"
                  "once decode as one (an ensemble; the loss is the mean of theirs)");
  cmd->add_option("--data", a->data, "Classifier: labelled data, TSV")->check(CLI::ExistingFile);
  cmd->add_option("--text", a->text, "Language model: a text to score")->check(CLI::ExistingFile);
  add_data_flags(cmd, a->data_flags);
  cmd->add_option("--beam", a->decode.beam, "Sequence-to-sequence: beam width for the outputs (1: greedy)")
      ->capture_default_str();
  cmd->add_option("--length-penalty", a->decode.length_penalty, "Sequence-to-sequence: as recur translate's")
      ->capture_default_str();
  cmd->add_option("--max-len", a->decode.max_length, "Sequence-to-sequence: as recur translate's")->capture_default_str();
  add_threads_flag(cmd, a->decode.threads, "chunks of a sequence-to-sequence model's sources");
  cmd->add_option("--format", a->format, "Output format")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  cmd->callback([a] { eval_command(*a); });
}

}  // namespace recur_cli
