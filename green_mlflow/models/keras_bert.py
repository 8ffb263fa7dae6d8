"""BERT-base as a plain Keras 3 model (transformers 5 has no TensorFlow classes).

Same architecture as BertModel: token + position + segment embeddings, LayerNorm, 12 post-LN
encoder layers (self-attention, GELU feed-forward), and a tanh pooler over the first token. GELU is
written with ``erf`` — the exact GELU — rather than ``tf.nn.gelu``, which lowers to ``Erfc``, an
op tf2onnx cannot convert (the wall the seed study hit with BERT from TensorFlow).
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf


def gelu_erf(x):
    return 0.5 * x * (1.0 + tf.math.erf(x / math.sqrt(2.0)))


class BertEmbeddings(keras.layers.Layer):
    def __init__(self, vocab_size: int, hidden: int, max_positions: int, **kwargs):
        super().__init__(**kwargs)
        self.word = keras.layers.Embedding(vocab_size, hidden, name="word_embeddings")
        self.position = keras.layers.Embedding(max_positions, hidden, name="position_embeddings")
        self.segment = keras.layers.Embedding(2, hidden, name="token_type_embeddings")
        self.norm = keras.layers.LayerNormalization(epsilon=1e-12, name="LayerNorm")

    def call(self, input_ids, token_type_ids):
        positions = tf.range(tf.shape(input_ids)[1])[tf.newaxis, :]
        return self.norm(self.word(input_ids) + self.position(positions) + self.segment(token_type_ids))


class BertLayer(keras.layers.Layer):
    def __init__(self, hidden: int, heads: int, intermediate: int, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.head_dim = heads, hidden // heads
        self.qkv = [keras.layers.Dense(hidden, name=n) for n in ("query", "key", "value")]
        self.attention_out = keras.layers.Dense(hidden, name="attention_output")
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-12, name="attention_LayerNorm")
        self.intermediate = keras.layers.Dense(intermediate, name="intermediate")
        self.output_dense = keras.layers.Dense(hidden, name="output")
        self.output_norm = keras.layers.LayerNormalization(epsilon=1e-12, name="output_LayerNorm")

    def _split(self, x):
        batch, seq = tf.shape(x)[0], tf.shape(x)[1]
        return tf.transpose(tf.reshape(x, (batch, seq, self.heads, self.head_dim)), (0, 2, 1, 3))

    def call(self, x, mask_bias):
        q, k, v = (self._split(layer(x)) for layer in self.qkv)
        scores = tf.matmul(q, k, transpose_b=True) / math.sqrt(self.head_dim) + mask_bias
        context = tf.matmul(tf.nn.softmax(scores, axis=-1), v)
        batch, seq = tf.shape(x)[0], tf.shape(x)[1]
        context = tf.reshape(tf.transpose(context, (0, 2, 1, 3)), (batch, seq, self.heads * self.head_dim))
        x = self.attention_norm(x + self.attention_out(context))
        return self.output_norm(x + self.output_dense(gelu_erf(self.intermediate(x))))


class KerasBert(keras.Model):
    """(input_ids, attention_mask, token_type_ids) → (last_hidden_state, pooler_output)."""

    def __init__(self, model: dict, **kwargs):
        super().__init__(name="bert_base", **kwargs)
        hidden = int(model["hidden_size"])
        self.embeddings = BertEmbeddings(
            int(model["vocab_size"]), hidden, max(512, int(model["seq_len"])), name="embeddings"
        )
        self.encoder = [
            BertLayer(hidden, int(model["num_heads"]), int(model["intermediate_size"]), name=f"layer_{i}")
            for i in range(int(model["num_layers"]))
        ]
        self.pooler = keras.layers.Dense(hidden, activation="tanh", name="pooler")

    def call(self, input_ids, attention_mask, token_type_ids):
        x = self.embeddings(input_ids, token_type_ids)
        mask_bias = (1.0 - tf.cast(attention_mask[:, tf.newaxis, tf.newaxis, :], tf.float32)) * -10000.0
        for layer in self.encoder:
            x = layer(x, mask_bias)
        return x, self.pooler(x[:, 0])


def build_keras_bert(model: dict) -> keras.Model:
    return KerasBert(model)
