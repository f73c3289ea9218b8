// Loads an AOTInductor package written by coder (InferenceOptimizer.save(model, "m.pt2")) from
// C++, without Python, and runs it on one input read from a file. Build and use: docs/BACKEND.md
// ("AOTInductor packages"), or benchmarks/aoti/build_and_run.sh.
//
//   run_package MODEL.pt2 INPUT.pt OUTPUT.pt   (INPUT.pt: torch.save of a list of tensors)
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/script.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>

static std::vector<at::Tensor> read_tensors(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::vector<at::Tensor> tensors;
  for (const auto& value : torch::jit::pickle_load(bytes).toList()) tensors.push_back(value.get().toTensor());
  return tensors;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: run_package MODEL.pt2 INPUT.pt OUTPUT.pt\n";
    return 2;
  }
  c10::InferenceMode inference;
  torch::inductor::AOTIModelPackageLoader loader(argv[1]);
  std::vector<at::Tensor> inputs = read_tensors(argv[2]);
  auto started = std::chrono::steady_clock::now();
  std::vector<at::Tensor> outputs = loader.run(inputs);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  c10::List<at::Tensor> saved;
  for (const auto& tensor : outputs) saved.push_back(tensor);
  std::vector<char> bytes = torch::jit::pickle_save(saved);
  std::ofstream(argv[3], std::ios::binary).write(bytes.data(), bytes.size());
  std::cout << "outputs=" << outputs.size() << " first_shape=" << outputs[0].sizes() << " first_call_ms=" << ms
            << "\n";
  return 0;
}
