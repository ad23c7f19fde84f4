// oneDNN's recurrent layers on the shapes of bench/train_bench: the vendor
// reference of bench/engine_bench.py.
//
//   dense input (T, B, V) -> L layers of oneDNN's RNN primitive (vanilla tanh,
//   LSTM, or GRU with the linear-before-reset form PyTorch and recur use), one
//   primitive per layer, zero initial state; forward_training, then backward
//   from a gradient on every output of the top layer.
//
// Timed per step: the forward and backward primitives of every layer, and
// zeroing the weight gradients. Not timed, so that oneDNN gets its best case:
// the weights are put in the primitives' own layouts once (a framework whose
// optimizer updates plain weights would reorder them every step), and there is
// no head, loss or optimizer. The input is dense where recur reads one-hot ids.
// Threads: OMP_NUM_THREADS (oneDNN is built on OpenMP here).
//
// Prints one line of JSON: tokens/s over the timed steps.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <vector>

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

memory filled(const memory::desc& d, const dnnl::engine& eng, std::mt19937& gen, float scale) {
  memory m(d, eng);
  std::uniform_real_distribution<float> u(-scale, scale);
  float* p = static_cast<float*>(m.get_data_handle());
  for (std::size_t i = 0; i < d.get_size() / sizeof(float); ++i) p[i] = u(gen);
  return m;
}

// The same values in another layout.
memory reordered(memory from, const memory::desc& to, const dnnl::engine& eng, dnnl::stream& s) {
  if (from.get_desc() == to) return from;
  memory m(to, eng);
  dnnl::reorder(from, m).execute(s, from, m);
  s.wait();
  return m;
}

// One layer: its primitives and every memory they read and write.
struct Layer {
  dnnl::primitive fwd, bwd;
  std::unordered_map<int, memory> fwd_args, bwd_args;
  std::vector<memory> diff_weights;  // zeroed every step
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"oneDNN recurrent layers: forward training + backward throughput"};
  std::string cell = "lstm";
  int layers = 1, hidden = 128, vocab = 80, batch = 32, seq_len = 64, steps = 20, warmup = 3;
  app.add_option("--cell", cell)->check(CLI::IsMember({"rnn", "lstm", "gru"}));
  app.add_option("--layers", layers);
  app.add_option("--hidden", hidden);
  app.add_option("--vocab", vocab);
  app.add_option("--batch", batch);
  app.add_option("--seq-len", seq_len);
  app.add_option("--steps", steps);
  app.add_option("--warmup", warmup);
  CLI11_PARSE(app, argc, argv);

  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  std::mt19937 gen(1);
  const memory::dim T = seq_len, N = batch, H = hidden;
  const memory::dim G = cell == "lstm" ? 4 : cell == "gru" ? 3 : 1;
  const memory::dim bias_gates = cell == "gru" ? 4 : G;  // linear-before-reset GRU: a 4th bias, b_hn
  const auto dir = dnnl::rnn_direction::unidirectional_left2right;
  const auto fwd_prop = dnnl::prop_kind::forward_training, bwd_prop = dnnl::prop_kind::backward;
  const memory::desc none;  // zero initial state; no final state out or gradient into it

  std::vector<Layer> net(static_cast<std::size_t>(layers));
  memory input = filled({{T, N, vocab}, dt::f32, tag::tnc}, eng, gen, 1.0f);
  memory below = input, diff_top;
  for (int l = 0; l < layers; ++l) {
    Layer& L = net[std::size_t(l)];
    const memory::dim C = l == 0 ? vocab : H;
    const memory::desc src{{T, N, C}, dt::f32, tag::tnc}, dst{{T, N, H}, dt::f32, tag::tnc};
    const memory::desc wl{{1, 1, C, G, H}, dt::f32, tag::any}, wi{{1, 1, H, G, H}, dt::f32, tag::any};
    const memory::desc bias{{1, 1, bias_gates, H}, dt::f32, tag::ldgo};
    const float scale = 1.0f / std::sqrt(float(H));
    memory user_wl = filled({{1, 1, C, G, H}, dt::f32, tag::ldigo}, eng, gen, scale);
    memory user_wi = filled({{1, 1, H, G, H}, dt::f32, tag::ldigo}, eng, gen, scale);
    memory b = filled(bias, eng, gen, scale);
    memory out(dst, eng), diff_src(src, eng), diff_dst = filled(dst, eng, gen, 1e-3f);

    auto build = [&](auto fwd_desc, auto bwd_desc, auto tag_fwd, auto tag_bwd) {
      using Fwd = decltype(tag_fwd);
      using Bwd = decltype(tag_bwd);
      typename Fwd::primitive_desc fpd(fwd_desc, eng);
      typename Bwd::primitive_desc bpd(bwd_desc, eng, fpd);
      memory ws(fpd.workspace_desc(), eng);
      L.fwd = Fwd(fpd);
      L.bwd = Bwd(bpd);
      L.fwd_args = {{DNNL_ARG_SRC_LAYER, below},
                    {DNNL_ARG_WEIGHTS_LAYER, reordered(user_wl, fpd.weights_layer_desc(), eng, s)},
                    {DNNL_ARG_WEIGHTS_ITER, reordered(user_wi, fpd.weights_iter_desc(), eng, s)},
                    {DNNL_ARG_BIAS, b},
                    {DNNL_ARG_DST_LAYER, out},
                    {DNNL_ARG_WORKSPACE, ws}};
      memory dwl(bpd.diff_weights_layer_desc(), eng), dwi(bpd.diff_weights_iter_desc(), eng),
          db(bpd.diff_bias_desc(), eng);
      L.diff_weights = {dwl, dwi, db};
      L.bwd_args = {{DNNL_ARG_SRC_LAYER, below},
                    {DNNL_ARG_WEIGHTS_LAYER, reordered(user_wl, bpd.weights_layer_desc(), eng, s)},
                    {DNNL_ARG_WEIGHTS_ITER, reordered(user_wi, bpd.weights_iter_desc(), eng, s)},
                    {DNNL_ARG_BIAS, b},
                    {DNNL_ARG_DST_LAYER, out},
                    {DNNL_ARG_WORKSPACE, ws},
                    {DNNL_ARG_DIFF_SRC_LAYER, diff_src},
                    {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwl},
                    {DNNL_ARG_DIFF_WEIGHTS_ITER, dwi},
                    {DNNL_ARG_DIFF_BIAS, db},
                    {DNNL_ARG_DIFF_DST_LAYER, diff_dst}};
    };
    const memory::desc dwl_any{{1, 1, C, G, H}, dt::f32, tag::any}, dwi_any{{1, 1, H, G, H}, dt::f32, tag::any};
    if (cell == "lstm") {
      build(dnnl::lstm_forward::desc(fwd_prop, dir, src, none, none, wl, wi, bias, dst, none, none),
            dnnl::lstm_backward::desc(bwd_prop, dir, src, none, none, wl, wi, bias, dst, none, none, src, none, none,
                                      dwl_any, dwi_any, bias, dst, none, none),
            dnnl::lstm_forward{}, dnnl::lstm_backward{});
    } else if (cell == "gru") {
      build(dnnl::lbr_gru_forward::desc(fwd_prop, dir, src, none, wl, wi, bias, dst, none),
            dnnl::lbr_gru_backward::desc(bwd_prop, dir, src, none, wl, wi, bias, dst, none, src, none, dwl_any,
                                         dwi_any, bias, dst, none),
            dnnl::lbr_gru_forward{}, dnnl::lbr_gru_backward{});
    } else {
      const auto tanh = dnnl::algorithm::eltwise_tanh;
      build(dnnl::vanilla_rnn_forward::desc(fwd_prop, tanh, dir, src, none, wl, wi, bias, dst, none),
            dnnl::vanilla_rnn_backward::desc(bwd_prop, tanh, dir, src, none, wl, wi, bias, dst, none, src, none,
                                             dwl_any, dwi_any, bias, dst, none),
            dnnl::vanilla_rnn_forward{}, dnnl::vanilla_rnn_backward{});
    }
    // The layer above reads this one's output and sends its input's gradient here.
    if (l > 0) net[std::size_t(l) - 1].bwd_args[DNNL_ARG_DIFF_DST_LAYER] = diff_src;
    below = out;
  }

  auto step = [&] {
    for (Layer& L : net) L.fwd.execute(s, L.fwd_args);
    for (auto it = net.rbegin(); it != net.rend(); ++it) {
      for (memory& m : it->diff_weights) std::memset(m.get_data_handle(), 0, m.get_desc().get_size());
      it->bwd.execute(s, it->bwd_args);
    }
    s.wait();
  };
  for (int k = 0; k < warmup; ++k) step();
  const auto t0 = std::chrono::steady_clock::now();
  for (int k = 0; k < steps; ++k) step();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const dnnl_version_t* v = dnnl_version();
  nlohmann::ordered_json j;
  j["impl"] = "onednn " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
  j["cpu_runtime"] = v->cpu_runtime == DNNL_RUNTIME_OMP ? "omp" : std::to_string(v->cpu_runtime);
  // The instruction set its kernels use (DNNL_MAX_CPU_ISA=AVX2 holds it to AVX2).
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  j["isa"] = isa == dnnl::cpu_isa::avx2            ? "avx2"
             : isa == dnnl::cpu_isa::avx2_vnni     ? "avx2_vnni"
             : isa == dnnl::cpu_isa::avx512_core   ? "avx512_core"
             : isa == dnnl::cpu_isa::avx512_core_vnni ? "avx512_core_vnni"
             : isa == dnnl::cpu_isa::avx512_core_bf16 ? "avx512_core_bf16"
             : isa == dnnl::cpu_isa::avx512_core_amx  ? "avx512_core_amx"
                                                      : std::to_string(int(isa));
  j["cell"] = cell;
  j["layers"] = layers;
  j["hidden"] = hidden;
  j["batch"] = batch;
  j["seq_len"] = seq_len;
  j["steps"] = steps;
  j["seconds"] = seconds;
  j["tokens_per_s"] = double(steps) * double(batch) * double(seq_len) / seconds;
  std::printf("%s\n", j.dump().c_str());
  return 0;
}
