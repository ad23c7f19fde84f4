// Saves a small classifier, loads it back and labels a text: the README's
// "Using the library" snippet, built against the installed package.
#include <cstdio>

#include "recur/io.hpp"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  recur::ModelInfo info;
  for (const char* w : {"i", "am", "good", "bad"}) info.vocab.add(w);
  info.labels = {"neg", "pos"};
  info.config.vocab = info.vocab.size();
  info.config.hidden = 8;
  recur::Model<float> trained(info.config);
  recur::Rng rng(1);
  recur::init_weights(trained, recur::InitKind::pytorch, rng);
  recur::save_model(argv[1], trained, info);

  recur::LoadedModel m = recur::load_model(argv[1]);
  recur::Model<float>::Workspace ws;
  recur::Encoded e = recur::encode(m.info.vocab, m.info.tokenizer, "i am good");
  m.model.forward(recur::make_batch({e.ids}, {}, {0}), ws);  // ws.probs: (1, C)
  const float p = ws.probs(0, 0) + ws.probs(0, 1);
  std::printf("%s %.6f %s %.6f\n", m.info.labels[0].c_str(), ws.probs(0, 0), m.info.labels[1].c_str(), ws.probs(0, 1));
  return p > 0.999f && p < 1.001f ? 0 : 1;
}
