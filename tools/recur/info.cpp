// recur info — what a model file holds.
#include <cstdio>
#include <memory>

#include "common.hpp"
#include "recur/classifier.hpp"
#include "recur/language_model.hpp"
#include "recur/translator.hpp"

namespace recur_cli {
namespace {

void print_parameters(const std::vector<recur::TensorShape>& shapes) {
  long n = 0;
  for (const auto& p : shapes) n += p.shape.size() == 1 ? p.shape[0] : p.shape[0] * p.shape[1];
  std::printf("parameters\t%ld\n", n);
  for (const auto& p : shapes)
    std::printf("  %s\t(%ld%s)\n", p.name.c_str(), p.shape[0],
                p.shape.size() == 1 ? "" : (", " + std::to_string(p.shape[1])).c_str());
}

void info_seq2seq(const std::string& path) {
  const recur::Seq2SeqInfo info = recur::Translator::load(path).info();
  const auto& c = info.config;
  const auto side = [](recur::TokenizerKind t, recur::Normalization n, int vocab) {
    return recur::to_string(t) + (recur::lowercases(n) ? " (lowercased)" : "") + ", vocabulary " + std::to_string(vocab);
  };
  std::printf("model\t%s\n", path.c_str());
  std::printf("task\tseq2seq (encoder-decoder)\n");
  std::printf("source\t%s\n", side(info.src_tokenizer, info.src_normalization, info.src_vocab.size()).c_str());
  std::printf("target\t%s\n", side(info.tgt_tokenizer, info.tgt_normalization, info.tgt_vocab.size()).c_str());
  std::printf("encoder\t%s, %d layer%s%s, hidden %d, embedding %d\n", recur::cell_name(c.encoder.cell).c_str(),
              c.encoder.layers, c.encoder.layers > 1 ? "s" : "", c.encoder.bidirectional ? " (bidirectional)" : "",
              c.encoder.hidden, c.encoder.embed);
  std::printf("decoder\t%s, %d layer%s, hidden %d, embedding %d\n", recur::cell_name(c.cell).c_str(), c.layers,
              c.layers > 1 ? "s" : "", c.hidden, c.embed);
  std::printf("bridge\t%s\n", c.copies_state() ? "none (the encoder's final state is copied)" : "learned");
  std::printf("attention\t%s%s\n", recur::to_string(c.attention).c_str(),
              c.attention != recur::AttentionKind::none && c.input_feeding ? " (input feeding)" : "");
  if (info.members > 1)
    std::printf("members\t%d (an ensemble: each has the parameters below, under members.0. to members.%d.)\n",
                info.members, info.members - 1);
  print_parameters(recur::parameter_shapes(c));
}

void info_command(const std::string& path) {
  if (recur::model_task(path) == "seq2seq") return info_seq2seq(path);
  const bool lm = recur::model_task(path) == "lm";
  const recur::ModelInfo info = lm ? recur::LanguageModel::load(path).info() : recur::Classifier::load(path).info();
  const auto& c = info.config;
  std::printf("model\t%s\n", path.c_str());
  std::printf("task\t%s\n", lm ? "lm (language model)" : "classify");
  std::printf("cell\t%s\n", recur::cell_name(c.cell).c_str());
  std::printf("layers\t%d%s\n", c.layers, c.bidirectional ? " (bidirectional)" : "");
  std::printf("hidden\t%d\n", c.hidden);
  if (!lm) std::printf("pool\t%s\n", recur::to_string(c.pool).c_str());
  std::printf("input\t%s%s\n", c.embed ? ("embedding " + std::to_string(c.embed)).c_str() : "one-hot",
              c.subwords.enabled() ? (" + character " + recur::to_string(c.subwords) + "-grams in " +
                                      std::to_string(c.subwords.buckets) + " buckets")
                                         .c_str()
                                   : "");
  std::printf("tokenizer\t%s%s\n", recur::to_string(info.tokenizer).c_str(), info.lowercase() ? " (lowercased)" : "");
  std::printf("vocabulary\t%d\n", info.vocab.size());
  if (!lm) {
    std::string labels;
    for (const auto& l : info.labels) labels += (labels.empty() ? "" : ", ") + l;
    std::printf("labels\t%zu: %s\n", info.labels.size(), labels.c_str());
  }
  print_parameters(recur::parameter_shapes(c));
}

}  // namespace

void setup_info(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("info", "Print a model's configuration, vocabulary size, labels and parameters.");
  cmd->add_option("--model", *path, "Model file")->required()->check(CLI::ExistingFile);
  cmd->callback([path] { info_command(*path); });
}

}  // namespace recur_cli
