"""GA-NAS (Changiz Rezaei et al., IJCAI 2021): truth set, k-GNN generator trained by PPO, pairwise discriminator."""

from nas_gym.agents.ganas.ganas import GANAS, GANASPolicy

__all__ = ["GANAS", "GANASPolicy"]
