// libFuzzer target: the eqnn program's list-valued options (--stages, --shifts, --action,
// --metrics, --deviations) and the probe's transform names. Every input must give a value or a
// c10::Error naming the option; the first byte chooses the parser, the rest is the option text.
#include <c10/util/Exception.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "eqnn/group.h"
#include "list_args.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    switch (data[0] % 7) {
      case 0:
        for (int64_t s : eqnn_cli::parse_stage_list(text))
          if (s < 0) std::abort();
        break;
      case 1:
        eqnn_cli::parse_shift_list(text);
        break;
      case 2:
        eqnn_cli::parse_action_list(text);
        break;
      case 3:
        if (eqnn_cli::parse_metric_list(text).empty()) std::abort();
        break;
      case 4:
        if (eqnn_cli::parse_deviation_list(text).empty()) std::abort();
        break;
      case 5:
        eqnn::Group::from_name(text);
        break;
      case 6: {
        const auto items = eqnn_cli::split_list(text, ',');
        for (const auto& item : items)
          if (item.empty() || item.find(',') != std::string::npos) std::abort();
        break;
      }
    }
  } catch (const c10::Error&) {
  }
  return 0;
}
