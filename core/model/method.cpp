#include "core/model/method.h"

namespace studio {

ContrastiveModelImpl::ContrastiveModelImpl(std::shared_ptr<BackboneImpl> backbone, std::shared_ptr<MethodImpl> method)
    : backbone_(register_module("backbone", std::move(backbone))), method_(std::move(method)) {
  // The method's parts sit beside the backbone, under their own names (see method.h).
  for (const auto& child : method_->named_children()) register_module(child.key(), child.value());
}

}  // namespace studio
