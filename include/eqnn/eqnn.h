// eqnn: group-equivariant neural-network layers for LibTorch. The umbrella header.
#pragma once

#include "eqnn/check.h"
#include "eqnn/export.h"
#include "eqnn/field.h"
#include "eqnn/group.h"
#include "eqnn/models.h"
#include "eqnn/nn/equivariant_module.h"
#include "eqnn/nn/group_batch_norm.h"
#include "eqnn/nn/group_conv.h"
#include "eqnn/nn/group_pool.h"
#include "eqnn/nn/lifting_conv.h"
#include "eqnn/nn/spatial_pool.h"
#include "eqnn/ops.h"
#include "eqnn/self_check.h"
#include "eqnn/threads.h"
#include "eqnn/version.h"
