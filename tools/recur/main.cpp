// recur — recurrent neural networks on text.
//
// The tool only parses flags and calls the library. Every error a user can
// cause ends here as one line on stderr and a non-zero exit code.
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>

#include "common.hpp"
#include "recur/mpi.hpp"
#include "recur/tensor.hpp"

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
  recur::use_blas_core_for_cpu(argv);  // OpenBLAS's kernels for this CPU (recur/tensor.hpp)
  CLI::App app{
      "recur: recurrent neural networks on text.\n"
      "Start with `recur train`: it runs the seed experiment (a vanilla RNN sentiment\n"
      "classifier trained on the built-in toy data set) and prints its log."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "recur 0.1.0 (BLAS kernels: " + recur::blas_core() + ")");
  recur_cli::setup_train(app);
  recur_cli::setup_predict(app);
  recur_cli::setup_eval(app);
  recur_cli::setup_generate(app);
  recur_cli::setup_translate(app);
  recur_cli::setup_info(app);
  recur_cli::setup_cv(app);
  recur_cli::setup_serve(app);
  const std::string first = argc > 1 ? argv[1] : "";
  if (!first.empty() && first[0] != '-' && first != "train" && first != "predict" && first != "eval" &&
      first != "generate" && first != "translate" && first != "info" && first != "cv" && first != "serve") {
    std::cerr << "recur: error: unknown command '" << first << "' (commands: train, predict, eval, generate, translate, info, cv, serve; see recur --help)\n";
    return 2;
  }
  // Under mpirun -np N every process runs this. Rank 0 reports errors (the
  // others would report the same); an error that only one rank can see (the
  // other processes gone or hanging) is reported by every rank that sees it.
  // After an error MPI_Abort ends the whole job, since the other ranks may be
  // waiting for this one.
  const bool rank0 = recur::launched_rank() == 0;
  auto fail = [&](int code, const std::string& line, bool every_rank) {
    if (rank0 || every_rank) std::cerr << (line + "\n") << std::flush;  // one write: mpirun may print between two
    recur::mpi_abort(code);  // (nothing when MPI is not running)
    return code;
  };
  if (recur::launched_ranks() > 1 && first != "train" && !first.empty() && first[0] != '-')
    return fail(2, "recur: error: only recur train runs on several processes; run recur " + first + " without mpirun",
                false);
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
    return fail(2, "recur: error: " + one_line(e.what()) + " (see recur --help)", false);
  } catch (const recur_cli::Interrupted&) {
    recur::mpi_finalize();  // every rank stopped at the same step
    return 130;
  } catch (const recur::DistributedError& e) {
    return fail(1, "recur: error: " + one_line(e.what()), true);
  } catch (const recur::Error& e) {
    return fail(1, "recur: error: " + one_line(e.what()), false);
  } catch (const std::bad_alloc&) {
    return fail(1, "recur: error: out of memory", true);
  } catch (const std::exception& e) {
    return fail(3, "recur: internal error: " + one_line(e.what()), true);
  }
  recur::mpi_finalize();
  return 0;
}
