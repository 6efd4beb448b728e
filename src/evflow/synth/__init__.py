"""Synthetic event recordings with exact ground-truth optical flow.

Real photographs and procedural textures move with known motion (a 6-DOF camera over a textured plane plus
independently moving sprites); frames are rendered adaptively and turned into events by a log-intensity
simulator, and the dense flow of every interval is computed exactly from the layer homographies.
"""

from evflow.synth.dataset import SequenceConfig, SyntheticSequence, make_scene, simulate_scene, write_sequence
from evflow.synth.generate import generate_dataset
from evflow.synth.images import TRAIN_IMAGES, VAL_IMAGES, load_image, split_images
from evflow.synth.motion import CameraMotion, SmoothSignal, SpeedProfile
from evflow.synth.render import Scene, ground_truth_flow
from evflow.synth.simulator import EventSimulator, SimulatorConfig
from evflow.synth.sprites import Sprite, random_sprite

__all__ = [
    "TRAIN_IMAGES",
    "VAL_IMAGES",
    "CameraMotion",
    "EventSimulator",
    "Scene",
    "SequenceConfig",
    "SimulatorConfig",
    "SmoothSignal",
    "SpeedProfile",
    "Sprite",
    "SyntheticSequence",
    "generate_dataset",
    "ground_truth_flow",
    "load_image",
    "make_scene",
    "random_sprite",
    "simulate_scene",
    "split_images",
    "write_sequence",
]
