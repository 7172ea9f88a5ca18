// Shape ladders the benchmarks sweep, in one place so every benchmark and the `bnrt bench`
// table use the same ones.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace bnrt::bench {

/// One batch-norm input per entry: channels and spatial size of a 2-D feature map.
struct FeatureMap {
  std::int64_t channels, height, width;
};

/// Every distinct batch-norm input of ResNet-50 (torchvision, stride on the 3x3 conv), from
/// the stem to the last block.
inline constexpr std::array<FeatureMap, 12> kResNet50BatchNorms = {{
    {64, 112, 112},  // bn1 after the 7x7 stem
    {64, 56, 56},    // layer1 conv1/conv2
    {128, 56, 56},   // layer2.0 conv1
    {256, 56, 56},   // layer1 conv3 + downsample
    {128, 28, 28},   // layer2 conv2
    {256, 28, 28},   // layer3.0 conv1
    {512, 28, 28},   // layer2 conv3
    {256, 14, 14},   // layer3 conv2
    {512, 14, 14},   // layer4.0 conv1
    {1024, 14, 14},  // layer3 conv3
    {512, 7, 7},     // layer4 conv2
    {2048, 7, 7},    // layer4 conv3
}};

/// Small feature maps where fixed per-call overhead dominates.
inline constexpr std::array<FeatureMap, 2> kTinyFeatureMaps = {{{16, 8, 8}, {64, 4, 4}}};

/// (N, C) inputs: BatchNorm1d after a Linear layer.
struct Rows {
  std::int64_t rows, channels;
};
inline constexpr std::array<Rows, 3> kRowShapes = {{{1, 512}, {256, 1024}, {4096, 256}}};

/// One convolution of a network: output channels, input channels, square kernel.
struct ConvWeightsShape {
  std::int64_t out_channels, in_channels, kernel;
};

/// Every convolution of ResNet-50 (torchvision), each followed by a batch norm: the stem,
/// then per stage the first block's 1x1 / 3x3 / 1x1 and downsample, and the repeated blocks.
/// 23.5M weights in all.
inline std::vector<ConvWeightsShape> resnet50_convs() {
  std::vector<ConvWeightsShape> convs{{64, 3, 7}};
  const std::int64_t widths[] = {64, 128, 256, 512};
  const int blocks[] = {3, 4, 6, 3};
  std::int64_t in = 64;
  for (int stage = 0; stage < 4; ++stage) {
    const std::int64_t width = widths[stage], out = width * 4;
    for (int block = 0; block < blocks[stage]; ++block) {
      convs.push_back({width, in, 1});
      convs.push_back({width, width, 3});
      convs.push_back({out, width, 1});
      if (block == 0) convs.push_back({out, in, 1});  // downsample
      in = out;
    }
  }
  return convs;
}

}  // namespace bnrt::bench
