// Umbrella header: everything an application embedding bnrt needs.
#pragma once

#include "bnrt/activation.hpp"
#include "bnrt/batch_norm.hpp"
#include "bnrt/batch_norm_params.hpp"
#include "bnrt/batch_stats.hpp"
#include "bnrt/conv_bn_act.hpp"
#include "bnrt/error.hpp"
#include "bnrt/fold.hpp"
#include "bnrt/isa.hpp"
#include "bnrt/tensor.hpp"
#include "bnrt/threads.hpp"
#include "bnrt/training_batch_norm.hpp"
