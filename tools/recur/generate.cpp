// recur generate — sample text from a language model, streaming to stdout.
#include <cstdio>
#include <memory>

#include "common.hpp"
#include "recur/language_model.hpp"

namespace recur_cli {
namespace {

struct GenerateArgs {
  std::string model, prime;
  long length = 500;
  recur::SampleOptions sample;
  std::uint32_t seed = 1;
};

void generate_command(const GenerateArgs& a) {
  if (a.length < 0) throw recur::Error("--length must be >= 0");
  recur::check(a.sample);
  if (recur::find_invalid_utf8(a.prime) != std::string::npos) throw recur::Error("--prime: invalid UTF-8");
  const std::string task = recur::model_task(a.model);
  if (task == "seq2seq")
    throw recur::Error(a.model + ": a sequence-to-sequence model, not a language model (use recur translate)");
  if (task != "lm") throw recur::Error(a.model + ": a classifier, not a language model (use recur predict)");
  const recur::LanguageModel lm = recur::LanguageModel::load(a.model);
  std::fputs(a.prime.c_str(), stdout);
  lm.generate(a.prime, a.length, a.sample, a.seed, [](const std::string& piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    if (piece == "\n") std::fflush(stdout);  // streams line by line
  });
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

}  // namespace

void setup_generate(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "generate",
      "Write text with a language model (recur train --task lm): the prime's symbols are run\n"
      "through the model first, then each next symbol is sampled and printed as it is made.");
  cmd->add_option("--model", a->model, "Language model file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--prime", a->prime, "Text to start from (printed first)");
  cmd->add_option("--length", a->length, "Symbols to generate")->capture_default_str();
  cmd->add_option("--temperature", a->sample.temperature, "Sampling temperature; 0 = always the most likely symbol")
      ->capture_default_str();
  cmd->add_option("--top-k", a->sample.top_k, "Sample among the K most likely symbols only (0 = all)")
      ->capture_default_str();
  cmd->add_option("--top-p", a->sample.top_p, "Sample among the most likely symbols whose probability adds up to P")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Random seed: the same seed gives the same text")->capture_default_str();
  cmd->callback([a] { generate_command(*a); });
}

}  // namespace recur_cli
