"""NumPy from-scratch forward and backward passes of a CNN's layers: teaching and oracle.

Every backward pass reads like the derivation it implements (the CNN lecture,
"Wsteczna propagacja błędu w sieciach CNN"), and every function agrees with
PyTorch's autograd to 1e-10 in float64 (tests/reference/).  This room imports
NumPy and `cnnlab.errors` only.

* `.conv`: convolution, by direct loops or im2col; its gradients as correlations.
* `.transposed`: transposed convolution, the input gradient of a convolution.
* `.pool`: max and average pooling (switches), nearest / bed-of-nails / max unpooling.
* `.linear`: the fully connected layer.
* `.gradcheck`: central-difference numerical gradients.
* `.windows`: padding, output sizes and the sliding windows they all share.
"""

from cnnlab.reference.conv import conv2d, conv2d_backward, conv2d_grad_input, conv2d_grad_weight
from cnnlab.reference.gradcheck import numerical_gradient, relative_error
from cnnlab.reference.grads import Grads
from cnnlab.reference.linear import linear, linear_backward
from cnnlab.reference.pool import (
    avg_pool2d,
    avg_pool2d_backward,
    max_pool2d,
    max_pool2d_backward,
    max_unpool2d,
    max_unpool2d_backward,
    unpool_bed_of_nails,
    unpool_bed_of_nails_backward,
    unpool_nearest,
    unpool_nearest_backward,
)
from cnnlab.reference.transposed import conv_transpose2d, conv_transpose2d_backward

__all__ = [
    "Grads",
    "avg_pool2d",
    "avg_pool2d_backward",
    "conv2d",
    "conv2d_backward",
    "conv2d_grad_input",
    "conv2d_grad_weight",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "linear",
    "linear_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "max_unpool2d",
    "max_unpool2d_backward",
    "numerical_gradient",
    "relative_error",
    "unpool_bed_of_nails",
    "unpool_bed_of_nails_backward",
    "unpool_nearest",
    "unpool_nearest_backward",
]
