#!/bin/sh
# A solution of exercise 5, typed in h1's console.
docker run -d --name nginx-1 --net=host nginx
docker run -d --name nginx-1b --net=host nginx
docker run -d --name nginx-2 -p 10000:80 nginx
