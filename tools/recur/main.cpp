// recur — recurrent neural networks on text.
//
// The tool only parses flags and calls the library. Every error a user can
// cause ends here as one line on stderr and a non-zero exit code.
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>

#include "common.hpp"

namespace {
// A message as one line, whatever text from a file it quotes (a name with a
// line break in it): control characters are shown as '?'.
std::string one_line(std::string s) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "recur: recurrent neural networks on text.\n"
      "Start with `recur train`: it runs the seed experiment (a vanilla RNN sentiment\n"
      "classifier trained on the built-in toy data set) and prints its log."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "recur 0.1.0");
  recur_cli::setup_train(app);
  recur_cli::setup_predict(app);
  recur_cli::setup_eval(app);
  recur_cli::setup_generate(app);
  recur_cli::setup_info(app);
  recur_cli::setup_cv(app);
  const std::string first = argc > 1 ? argv[1] : "";
  if (!first.empty() && first[0] != '-' && first != "train" && first != "predict" && first != "eval" &&
      first != "generate" && first != "info" && first != "cv") {
    std::cerr << "recur: error: unknown command '" << first << "' (commands: train, predict, eval, generate, info, cv; see recur --help)\n";
    return 2;
  }
  recur_cli::install_interrupt_handlers();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "recur: error: " << one_line(e.what()) << " (see recur --help)\n";
    return 2;
  } catch (const recur_cli::Interrupted&) {
    return 130;
  } catch (const recur::Error& e) {
    std::cerr << "recur: error: " << one_line(e.what()) << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "recur: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "recur: internal error: " << one_line(e.what()) << "\n";
    return 3;
  }
  return 0;
}
