// The schemas of every centernet_fast op, in one place: this is the library's operator API.
// Kernels are registered per backend next to each op (TORCH_LIBRARY_IMPL).
#include <torch/library.h>

TORCH_LIBRARY(centernet_fast, m) {
  // Elementwise CornerNet/CenterNet Gaussian radius of (height, width) box sizes, float64.
  m.def("gaussian_radius(Tensor height, Tensor width, float min_overlap=0.7, "
        "str mode=\"centernet\") -> Tensor");
  // CenterNet detection targets: (hm, wh, reg, ind, reg_mask) for a padded batch of boxes.
  m.def("ctdet_targets(Tensor boxes, Tensor labels, int num_classes, int[2] output_size, "
        "int max_objs=128, float min_overlap=0.7, str radius_mode=\"centernet\") "
        "-> (Tensor hm, Tensor wh, Tensor reg, Tensor ind, Tensor reg_mask)");
  // Penalty-reduced focal loss on logits: the normalised loss (float32; float64 for float64
  // logits) and the int64 number of positives it was divided by (saved for the backward).
  m.def("focal_loss(Tensor logits, Tensor target, float alpha=2.0, float beta=4.0, "
        "bool clamp=True) -> (Tensor loss, Tensor num_pos)");
  // d loss / d logits, recomputed from the inputs and the forward's num_pos.
  m.def("focal_loss_backward(Tensor grad_loss, Tensor logits, Tensor target, Tensor num_pos, "
        "float alpha, float beta, bool clamp) -> Tensor");
  // CenterNet box decoding: 3x3 peak NMS, the K best peaks over all classes, their boxes.
  m.def("ctdet_decode(Tensor heat, Tensor wh, Tensor? reg=None, int K=100, "
        "bool cat_spec_wh=False, bool logits=False, float? threshold=None) -> Tensor");
  // Modulated deformable convolution (DCNv2) with torchvision.ops.deform_conv2d's layouts:
  // conv groups = C / weight.size(1), deformable groups = offset.size(1) / (2 kh kw); no mask
  // means a mask of ones. border_rule ("torchvision" or "dcnv2") is the offset gradient's rule
  // at the border of the sampled region: it leaves the output unchanged, and the autograd
  // formula passes it to the backward.
  m.def("deform_conv2d(Tensor input, Tensor offset, Tensor weight, Tensor? bias, int[2] stride, "
        "int[2] padding, int[2] dilation, Tensor? mask, str border_rule=\"torchvision\") "
        "-> Tensor");
  // The gradients of deform_conv2d with respect to input, offset, weight, bias and mask (the
  // mask's with respect to a mask of ones when none was given). output_mask selects (input,
  // offset and mask, weight and bias); a kernel may skip the others, whose contents are then
  // unspecified (shapes always match).
  m.def("deform_conv2d_backward(Tensor grad_output, Tensor input, Tensor offset, Tensor weight, "
        "Tensor? mask, int[2] stride, int[2] padding, int[2] dilation, "
        "bool[3] output_mask=[True, True, True], str border_rule=\"torchvision\") "
        "-> (Tensor grad_input, "
        "Tensor grad_offset, Tensor grad_weight, Tensor grad_bias, Tensor grad_mask)");
}
