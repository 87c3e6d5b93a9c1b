"""postprocess: feature maps [B, C, H, W] -> per-channel mean pooling -> softmax, sorted top-k."""

import os

import numpy as np
import triton_python_backend_utils as pb_utils


def top_k(features: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Scores (softmax of the pooled channels), highest first, and the matching labels."""
    pooled = features.mean(axis=(2, 3), dtype=np.float64)
    exp = np.exp(pooled - pooled.max(axis=1, keepdims=True))
    probabilities = exp / exp.sum(axis=1, keepdims=True)
    order = np.argsort(-probabilities, axis=1, kind="stable")
    scores = np.take_along_axis(probabilities, order, axis=1).astype(np.float32)
    names = np.array(labels, dtype=object)[order]
    return scores, names


class TritonPythonModel:
    def initialize(self, args):
        folder = os.path.join(args["model_repository"], args["model_version"])
        with open(os.path.join(folder, "labels.txt")) as handle:
            self.labels = [line.strip() for line in handle if line.strip()]

    def execute(self, requests):
        responses = []
        for request in requests:
            features = pb_utils.get_input_tensor_by_name(request, "features").as_numpy()
            scores, names = top_k(features, self.labels)
            responses.append(
                pb_utils.InferenceResponse(
                    output_tensors=[
                        pb_utils.Tensor("scores", scores),
                        pb_utils.Tensor("labels", names.astype(np.bytes_)),
                    ]
                )
            )
        return responses
