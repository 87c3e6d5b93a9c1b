"""Scale-out on Kubernetes: the Helm chart's offline render and checks, and the autoscaling simulation."""
