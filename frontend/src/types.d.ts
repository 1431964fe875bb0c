declare module "cytoscape-edgehandles";
declare module "cytoscape-elk";
declare module "cytoscape-svg";
