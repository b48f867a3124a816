# How eqnn links LibTorch, shared by the build (CMakeLists.txt) and the installed package
# (eqnnConfig.cmake), so that the exported eqnn::eqnn target records no absolute path of LibTorch.
#
# eqnn_split_torch_libraries(<portable_var> <paths_var>) splits TORCH_LIBRARIES (as set by
# find_package(Torch)) into
#   <portable_var>: imported targets (torch, torch_library, c10, ...) and plain names or flags,
#                   which a consumer's find_package(Torch) defines again; a library given by its
#                   absolute path whose name is an imported target (Debian's TorchConfig.cmake adds
#                   .../libc10.so next to the c10 target) is replaced by that target;
#   <paths_var>:    the remaining absolute paths (e.g. CUDA libraries of a CUDA LibTorch). eqnn links
#                   them in its build tree only; eqnnConfig.cmake adds the ones the consumer's
#                   TorchConfig.cmake finds, on the consumer's machine, at its configure time.
function(eqnn_split_torch_libraries portable_var paths_var)
  set(portable "")
  set(paths "")
  foreach(item IN LISTS TORCH_LIBRARIES)
    if(TARGET "${item}")
      list(APPEND portable "${item}")
    elseif(IS_ABSOLUTE "${item}")
      get_filename_component(file_name "${item}" NAME)
      string(REGEX REPLACE "^lib([^.]+)\\..*$" "\\1" target_name "${file_name}")
      if(TARGET "${target_name}")
        list(APPEND portable "${target_name}")
      else()
        list(APPEND paths "${item}")
      endif()
    else()
      list(APPEND portable "${item}")
    endif()
  endforeach()
  list(REMOVE_DUPLICATES portable)
  set(${portable_var} "${portable}" PARENT_SCOPE)
  set(${paths_var} "${paths}" PARENT_SCOPE)
endfunction()
