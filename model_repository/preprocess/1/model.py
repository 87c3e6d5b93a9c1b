"""preprocess: uint8 HWC images -> ImageNet-normalised float32 CHW (the CNN's input)."""

import numpy as np
import triton_python_backend_utils as pb_utils

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(1, 3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(1, 3, 1, 1)


def normalise(images: np.ndarray) -> np.ndarray:
    """[B, H, W, 3] uint8 -> [B, 3, H, W] float32, (x / 255 - mean) / std."""
    chw = images.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    return np.ascontiguousarray((chw - MEAN) / STD, dtype=np.float32)


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            images = pb_utils.get_input_tensor_by_name(request, "image").as_numpy()
            pixels = pb_utils.Tensor("pixels", normalise(images))
            responses.append(pb_utils.InferenceResponse(output_tensors=[pixels]))
        return responses
