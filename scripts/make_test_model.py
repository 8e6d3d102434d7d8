#!/usr/bin/env python3
"""Write the tiny ONNX image encoders the embed tests run (tests/data/encoder*.onnx).

Reproducible: fixed seeded weights, no training, only the `onnx` and `numpy` packages
(`pip install onnx numpy`). Re-running writes byte-identical files.

encoder.onnx       input  "images"     float32 [N, 3, 32, 32] (NCHW, dynamic batch)
                   output "embedding"  float32 [N, 16]          (conv-relu-conv-relu, global average pool)
                   output "feature_map" float32 [N, 16, 8, 8]   (the map before pooling)
encoder_nhwc.onnx  input  "pixels"     float32 [1, 24, 40, 3]  (NHWC, fixed batch of 1, 24 high, 40 wide)
                   output "embedding"  float32 [1, 16]
"""
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"


def conv_stack(rng, first_input):
    """Two 3×3 stride-2 convolutions with ReLU; returns nodes, initialisers and the map's name."""
    w1 = (rng.standard_normal((8, 3, 3, 3)) * 0.5).astype(np.float32)
    b1 = (rng.standard_normal(8) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((16, 8, 3, 3)) * 0.3).astype(np.float32)
    b2 = (rng.standard_normal(16) * 0.1).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in [(w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2")]]
    nodes = [
        helper.make_node("Conv", [first_input, "w1", "b1"], ["c1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["feature_map"]),
        helper.make_node("GlobalAveragePool", ["feature_map"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["embedding"], axis=1),
    ]
    return nodes, inits


def save(model, name):
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = OUT / name
    path.write_bytes(model.SerializeToString())
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    opset = [helper.make_opsetid("", 17)]

    nodes, inits = conv_stack(np.random.default_rng(8), "images")
    graph = helper.make_graph(
        nodes,
        "ivt_test_encoder",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [
            helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 16]),
            helper.make_tensor_value_info("feature_map", TensorProto.FLOAT, ["N", 16, 8, 8]),
        ],
        inits,
    )
    save(helper.make_model(graph, opset_imports=opset, producer_name="ivt-explore make_test_model.py"), "encoder.onnx")

    nodes, inits = conv_stack(np.random.default_rng(8), "nchw")
    nodes.insert(0, helper.make_node("Transpose", ["pixels"], ["nchw"], perm=[0, 3, 1, 2]))
    graph = helper.make_graph(
        nodes,
        "ivt_test_encoder_nhwc",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, 24, 40, 3])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, 16])],
        inits,
    )
    save(helper.make_model(graph, opset_imports=opset, producer_name="ivt-explore make_test_model.py"), "encoder_nhwc.onnx")


if __name__ == "__main__":
    main()
